using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using PjSharp.Bridging;
using PjSharp.DataAccess;
using PjSharp.Servants;
using PjSharp.Sessions;

namespace PjSharp.Hosting;

/// <summary>
/// Calls as a server component: the session service behind interception, one servant per call,
/// the built-in applications (<c>echo</c>, <c>playback</c>), the routes added with
/// <see cref="PjSharpBuilder.MapInvite(string, SessionHandler)"/> and the SDP handlers added with
/// <see cref="PjSharpBuilder.AddSdpHandler{THandler}"/>. Stopping ends the calls in progress.
/// </summary>
public sealed class SessionsComponent(IMeterFactory meterFactory, IEnumerable<SessionRoute> routes, IEnumerable<Media.SdpHandler> sdpHandlers)
    : IPjSharpComponent, IAsyncDisposable
{
    private ServantDispatcher<ulong>? _servants;
    private SessionService? _service;

    /// <summary>The session service once the server has started (null when sessions are disabled).</summary>
    public SessionService? Service => _service;

    /// <summary>The B2BUA taking calls to registered phones (null when disabled).</summary>
    public CallBridge? Bridge { get; private set; }

    public Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var options = server.Options.Sessions;
        if (!options.Enabled)
            return Task.CompletedTask;
        var loggers = server.LoggerFactory;
        var sessionOptions = new SessionServiceOptions();
        _servants = new ServantDispatcher<ulong>(new ServantOptions { Name = "sessions", MaxQueuedPerKey = sessionOptions.MaxQueuedPerCall },
            meterFactory, loggers.CreateLogger("PjSharp.Servants"));
        var store = server.Store;
        _service = new SessionService(server.Endpoint, new SessionServiceOptions
        {
            RtpPortStart = options.RtpPortStart,
            RtpPortEnd = options.RtpPortEnd,
            MediaAddress = options.MediaAddress,
            FindAuth = async (id, token) => await store.GetAsync<Auth>(id, token).ConfigureAwait(false),
        }, server.Interception, _servants, loggers.CreateLogger("PjSharp.Sessions"));
        if (!string.IsNullOrEmpty(options.EchoTarget))
            _service.Router.MapInvite(options.EchoTarget, SessionApplications.Echo);
        var playbackFile = options.PlaybackFile ?? Path.Combine(AppContext.BaseDirectory, "samples", "sounds", "tone.wav");
        if (!string.IsNullOrEmpty(options.PlaybackTarget) && File.Exists(playbackFile))
            _service.Router.MapInvite(options.PlaybackTarget, SessionApplications.Playback(playbackFile));
        foreach (var route in routes)
            _service.Router.MapInvite(route.Target, route.Handler);
        // Set before the service is registered, so no call is negotiated without them.
        foreach (var handler in sdpHandlers)
            _service.SetSdpHandler(handler);
        if (options.Bridge)
        {
            Bridge = new CallBridge(_service, server.Contacts,
                async (id, token) => await store.GetAsync<Endpoint>(id, token).ConfigureAwait(false),
                new CallBridgeOptions { RingTimeout = options.RingTimeout }, loggers.CreateLogger("PjSharp.Bridging"));
            _service.Router.Fallback = Bridge.Route;
        }
        var service = _service;
        server.Meter.CreateObservableGauge("pjsharp.sip.sessions.active", () => service.ActiveSessions, "{session}", "INVITE sessions in progress");
        server.Meter.CreateObservableCounter("pjsharp.sip.sessions.started", () => service.SessionsStarted, "{session}", "INVITE sessions started, both directions");
        server.Register(_service);
        return Task.CompletedTask;
    }

    public async Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        if (_service == null)
            return;
        await _service.HangupAllAsync(drainTimeout).ConfigureAwait(false);
        await _servants!.DrainAsync(drainTimeout, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_service != null)
            await _service.DisposeAsync().ConfigureAwait(false);
        if (_servants != null)
            await _servants.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>A call target mapped with <see cref="PjSharpBuilder.MapInvite(string, SessionHandler)"/>.</summary>
public sealed record SessionRoute(string Target, SessionHandler Handler);
