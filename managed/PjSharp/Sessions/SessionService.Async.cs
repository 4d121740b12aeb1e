using System.Net;
using System.Net.Sockets;
using PjSharp.DataAccess;
using PjSharp.Interop;

namespace PjSharp.Sessions;

public sealed partial class SessionService
{
    /// <summary>Ends every call (BYE, CANCEL or 503) and waits up to <paramref name="timeout"/> for them to finish.</summary>
    public async Task<bool> HangupAllAsync(TimeSpan timeout)
    {
        var sessions = _sessions.Keys.ToArray();
        foreach (var session in sessions)
            _ = session.InvokeAsync(() => session.End(session.IsIncomingInvitePending ? 503 : 0, null));
        var all = Task.WhenAll(sessions.Select(s => s.Completion));
        return await Task.WhenAny(all, Task.Delay(timeout)).ConfigureAwait(false) == all;
    }

    public async ValueTask DisposeAsync()
    {
        await HangupAllAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        if (_ownsServants)
            await _servants.DisposeAsync().ConfigureAwait(false);
        if (!_endpoint.IsDestroyed)
        {
            PjThread.EnsureRegistered();
            _media?.Dispose();
            _media = null;
        }
    }

    /// <summary>
    /// Starts the application on the call's servant: until its first await that does not complete at
    /// once, it runs here, and its session calls (answer, echo) run inline without another hop.
    /// </summary>
    private void RunApplication(SipSession session, SessionHandler handler)
    {
        Task running;
        try
        {
            running = handler(session, session.Ended);
        }
#pragma warning disable CA1031 // The firewall for application code: the call ends, nothing else does.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Log.ApplicationFailed(exception, session.CallId);
            session.End(session.IsIncomingInvitePending ? 500 : 0, null);
            return;
        }
        _ = ObserveApplicationAsync(session, running);
    }

    private async Task ObserveApplicationAsync(SipSession session, Task running)
    {
        try
        {
            await running.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (session.Ended.IsCancellationRequested)
        {
            return;
        }
        catch (DataAccess.BackendUnavailableException exception)
        {
            // The database is away (its outage is logged once by the backend): a passing fault, the caller may retry.
            Log.CallRejected(session.CallId, session.Target, 503, exception.Message);
            await EndQuietly(session, 503).ConfigureAwait(false);
            return;
        }
#pragma warning disable CA1031 // The firewall for application code: the call ends, nothing else does.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Log.ApplicationFailed(exception, session.CallId);
            await EndQuietly(session, 500).ConfigureAwait(false);
            return;
        }
        // The application is done with the call: what it left open is ended (480 if never answered).
        await EndQuietly(session, 480).ConfigureAwait(false);
    }

    private static async Task EndQuietly(SipSession session, int unansweredStatus)
    {
        if (session.Completion.IsCompleted)
            return;
        try
        {
            await session.InvokeAsync(() => session.End(session.IsIncomingInvitePending ? unansweredStatus : 0, null)).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The session may have ended meanwhile.
        catch (InvalidOperationException)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>
    /// Calls <see cref="CallOptions.Target"/>. The session is returned once the INVITE is sent;
    /// <see cref="SipSession.Answered"/> gives its outcome. Digest challenges are answered from the
    /// endpoint's <c>outbound_auth</c>.
    /// </summary>
    public async Task<SipSession> CallAsync(CallOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var endpoint = options.Endpoint ?? Options.DefaultEndpoint;
        // Read here: the servant that sends the INVITE runs outside the caller's execution context.
        var traceParent = options.TraceParent ?? System.Diagnostics.Activity.Current?.Context ?? default;
        var credentials = new List<Auth>();
        foreach (var id in endpoint.OutboundAuth)
        {
            if (Options.FindAuth != null && await Options.FindAuth(id, cancellationToken).ConfigureAwait(false) is { } auth)
                credentials.Add(auth);
        }
        var transport = _endpoint.Transports.FirstOrDefault(t => t.Protocol == Transports.SipTransportProtocol.Udp) ?? (_endpoint.Transports.Count > 0 ? _endpoint.Transports[0] : null)
            ?? throw new InvalidOperationException("The endpoint has no transport to call from.");
        var localAddress = transport.LocalEndPoint.Address;
        if (localAddress.Equals(System.Net.IPAddress.Any))
            localAddress = System.Net.IPAddress.Loopback;
        else if (localAddress.Equals(System.Net.IPAddress.IPv6Any))
            localAddress = System.Net.IPAddress.IPv6Loopback;
        var host = localAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{localAddress}]" : localAddress.ToString();
        var fromUser = endpoint.FromUser.Length > 0 ? endpoint.FromUser
            : options.Caller is { User.Length: > 0 } caller ? caller.User
            : (endpoint.CallerId.Number.Length > 0 ? endpoint.CallerId.Number : "pjsharp");
        var fromName = options.Caller?.Name is { Length: > 0 } name ? $"\"{name.Replace("\"", "", StringComparison.Ordinal)}\" " : "";
        var fromDomain = endpoint.FromDomain.Length > 0 ? endpoint.FromDomain : host;
        var from = options.From ?? (fromName.Length > 0 ? $"{fromName}<sip:{fromUser}@{fromDomain}>" : $"sip:{fromUser}@{fromDomain}");
        var contact = ContactFor(localAddress.ToString(), transport.LocalEndPoint.Port, transport.Protocol.ToString());
        var (dialogAddress, key) = CreateOutboundDialog(from, contact, options.To ?? options.Target, options.Target);
        var session = new SipSession(this, endpoint, null, SessionDirection.Outbound, key, Options.MediaAddress ?? localAddress.ToString())
        {
            Call = options.Call,
            Target = options.Target,
            LocalIdentity = options.Caller,
        };
        try
        {
            await session.InvokeAsync(() => StartOutbound(session, dialogAddress, options, credentials, traceParent)).ConfigureAwait(false);
        }
        catch
        {
            // Nothing was sent: drop the dialog, or end the INVITE session (which releases the session).
            if (!session.IsAttached)
                await session.InvokeAsync(() => TerminateDialog(dialogAddress)).ConfigureAwait(false);
            else
                await session.InvokeAsync(() => session.Terminate(500)).ConfigureAwait(false);
            throw;
        }
        if (options.Timeout is { } timeout)
        {
            _ = Task.Delay(timeout, session.Ended).ContinueWith(t =>
            {
                if (!t.IsCanceled && !session.Answered.IsCompleted)
                    _ = session.HangupAsync();
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return session;
    }
}
