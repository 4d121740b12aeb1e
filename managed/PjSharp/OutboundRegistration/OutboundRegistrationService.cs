using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.DataAccess;
using PjSharp.Transports;

namespace PjSharp.OutboundRegistration;

/// <summary>Options of <see cref="OutboundRegistrationService"/>.</summary>
public sealed class OutboundRegistrationOptions
{
    /// <summary>User-Agent sent when a registration has none of its own (empty: none).</summary>
    public string UserAgent { get; init; } = "";

    /// <summary>Writes each status change as a <c>registration_status</c> object when the store maps that type.</summary>
    public bool PersistStatus { get; init; } = true;

    /// <summary>
    /// Follow the store after <see cref="OutboundRegistrationService.StartAsync(CancellationToken)"/>: when
    /// <c>registration</c> or <c>auth</c> objects change (a reload, a database write), the changes are applied
    /// (see <see cref="OutboundRegistrationService.ApplyChangesAsync"/>).
    /// </summary>
    public bool FollowChanges { get; init; }

    /// <summary>How long a registration removed or changed at run time waits for its Expires: 0 to be answered.</summary>
    public TimeSpan ChangeUnregisterTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The clock for delays, refreshes and the times in the status (tests use a fake one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>A registration's status changed.</summary>
public sealed class RegistrationStatusEventArgs(RegistrationStatus status) : EventArgs
{
    public RegistrationStatus Status { get; } = status;
}

/// <summary>
/// Registers PjSharp with other registrars, one client per <c>registration</c> object (Asterisk's
/// outbound registrations): the first REGISTER after a random delay up to
/// <c>max_random_initial_delay</c>, digest challenges answered from <c>outbound_auth</c>, a refresh
/// before the granted time runs out, retries by <see cref="RegistrationRetryPolicy"/>, and Expires: 0
/// when stopped. Each status change is kept in memory and written to the store as a
/// <c>registration_status</c> object.
/// </summary>
/// <remarks>
/// Nothing here runs on a pjsip worker thread except the answer callback, which only hands the
/// answer to the registration's loop on the thread pool.
/// </remarks>
public sealed class OutboundRegistrationService : IAsyncDisposable
{
    private readonly SipEndpoint _endpoint;
    private readonly ObjectStore _store;
    private readonly OutboundRegistrationOptions _options;
    private readonly ConcurrentDictionary<string, RegistrationClient> _clients = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly List<IDisposable> _subscriptions = [];
    private int _changePending;
    private int _stopped;

    public OutboundRegistrationService(SipEndpoint endpoint, ObjectStore store, OutboundRegistrationOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(store);
        _endpoint = endpoint;
        _store = store;
        _options = options ?? new OutboundRegistrationOptions();
        Logger = logger ?? NullLogger.Instance;
    }

    internal ILogger Logger { get; }

    internal TimeProvider Time => _options.TimeProvider;

    /// <summary>Raised after every status change, on the thread pool.</summary>
    public event EventHandler<RegistrationStatusEventArgs>? StatusChanged;

    /// <summary>The status of every registration started.</summary>
    public IReadOnlyList<RegistrationStatus> Statuses => _clients.Values.Select(c => c.Status).OrderBy(s => s.Id, StringComparer.Ordinal).ToList();

    /// <summary>The status of registration <paramref name="id"/>, or null when it was not started.</summary>
    public RegistrationStatus? GetStatus(string id) => _clients.TryGetValue(id, out var client) ? client.Status : null;

    /// <summary>Starts every <c>registration</c> object of the store.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (!_store.MappedTypes.Contains(Registration.Type))
            return;
        var registrations = await _store.GetAllAsync<Registration>(cancellationToken).ConfigureAwait(false);
        await StartAsync(registrations, cancellationToken).ConfigureAwait(false);
        if (!_options.FollowChanges)
            return;
        lock (_subscriptions)
        {
            foreach (var type in new ObjectType[] { Registration.Type, Auth.Type })
            {
                if (_store.MappedTypes.Contains(type))
                    _subscriptions.Add(_store.AddObserver(type, new ChangeObserver(this)));
            }
        }
    }

    // Changes come in bursts (a reload reports every object): one pass applies them all.
    private void ScheduleChanges()
    {
        if (Volatile.Read(ref _stopped) != 0 || Interlocked.Exchange(ref _changePending, 1) != 0)
            return;
        _ = Task.Run(async () =>
        {
            try
            {
                Interlocked.Exchange(ref _changePending, 0);
                await ApplyChangesAsync(_options.ChangeUnregisterTimeout).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Logged; the registrations running go on.
            catch (Exception exception) when (exception is not ObjectDisposedException)
#pragma warning restore CA1031
            {
                Logger.ChangesFailed(exception);
            }
        });
    }

    private sealed class ChangeObserver(OutboundRegistrationService service) : IObjectObserver
    {
        public void Created(ObjectChange change) => service.ScheduleChanges();

        public void Updated(ObjectChange change) => service.ScheduleChanges();

        public void Deleted(ObjectChange change) => service.ScheduleChanges();

        public void Reloaded(ObjectType type) => service.ScheduleChanges();
    }

    /// <summary>
    /// Starts <paramref name="registrations"/>. One that cannot start (a bad URI, no transport for it)
    /// is logged and left <see cref="RegistrationState.Stopped"/>; the others go on.
    /// </summary>
    public async Task StartAsync(IEnumerable<Registration> registrations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registrations);
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _stopped) != 0, this);
            await StartCoreAsync(registrations, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>
    /// Brings the running registrations in line with the store's <c>registration</c> objects (after a
    /// reload or a database write): a removed one is unregistered and its status deleted, a changed one
    /// (or one whose auth objects changed) is unregistered and started again, a new one starts.
    /// </summary>
    public async Task ApplyChangesAsync(TimeSpan unregisterTimeout, CancellationToken cancellationToken = default)
    {
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _stopped) != 0)
                return;
            var wanted = _store.MappedTypes.Contains(Registration.Type)
                ? (await _store.GetAllAsync<Registration>(cancellationToken).ConfigureAwait(false)).ToDictionary(r => r.Id, StringComparer.Ordinal)
                : [];
            foreach (var (id, client) in _clients.OrderBy(c => c.Key, StringComparer.Ordinal).ToList())
            {
                if (wanted.TryGetValue(id, out var registration) && registration == client.Registration
                    && (await CredentialsAsync(registration, cancellationToken).ConfigureAwait(false)).SequenceEqual(client.Credentials))
                {
                    wanted.Remove(id);
                    continue;
                }
                Logger.Changed(id, wanted.ContainsKey(id) ? "changed; starting again" : "removed");
                await client.StopAsync(unregisterTimeout).ConfigureAwait(false);
                _clients.TryRemove(id, out _);
                if (!wanted.ContainsKey(id) && _options.PersistStatus && _store.MappedTypes.Contains(RegistrationStatus.Type))
                    await _store.DeleteAsync<RegistrationStatus>(id, cancellationToken).ConfigureAwait(false);
            }
            await StartCoreAsync(wanted.Values.OrderBy(r => r.Id, StringComparer.Ordinal), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _changes.Release();
        }
    }

    private async Task StartCoreAsync(IEnumerable<Registration> registrations, CancellationToken cancellationToken)
    {
        foreach (var registration in registrations)
        {
            var client = new RegistrationClient(this, registration);
            if (!_clients.TryAdd(registration.Id, client))
                throw new InvalidOperationException($"Registration '{registration.Id}' is already started.");
            try
            {
                var credentials = await CredentialsAsync(registration, cancellationToken).ConfigureAwait(false);
                var contact = ContactFor(registration, await BindPortAsync(registration, cancellationToken).ConfigureAwait(false));
                var userAgent = registration.UserAgent.Length > 0 ? registration.UserAgent : _options.UserAgent;
                client.Create(_endpoint, contact, credentials, userAgent);
            }
#pragma warning disable CA1031 // One bad registration does not stop the others.
            catch (Exception exception) when (exception is not OperationCanceledException)
#pragma warning restore CA1031
            {
                Logger.StartFailed(exception, registration.Id);
                client.Destroy(freeHandle: true);
                await PublishAsync(client.Status with { State = RegistrationState.Stopped, UpdatedAt = Time.GetUtcNow() }).ConfigureAwait(false);
                continue;
            }
            var delay = registration.MaxRandomInitialDelay == 0
                ? TimeSpan.Zero
                : TimeSpan.FromSeconds(Random.Shared.NextDouble() * registration.MaxRandomInitialDelay);
            Logger.Starting(registration.Id, registration.ServerUri, Math.Round(delay.TotalSeconds, 1));
            client.Start(delay);
        }
    }

    /// <summary>
    /// Waits until registration <paramref name="id"/> has a status matching <paramref name="predicate"/>
    /// (immediately when it already has) and returns it.
    /// </summary>
    public async Task<RegistrationStatus> WaitForAsync(string id, Func<RegistrationStatus, bool> predicate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var seen = new TaskCompletionSource<RegistrationStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(object? sender, RegistrationStatusEventArgs e)
        {
            if (e.Status.Id == id && predicate(e.Status))
                seen.TrySetResult(e.Status);
        }
        StatusChanged += OnChanged;
        try
        {
            if (GetStatus(id) is { } current && predicate(current))
                return current;
            return await seen.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            StatusChanged -= OnChanged;
        }
    }

    /// <summary>
    /// Stops every registration: no more attempts, and Expires: 0 for those that may be bound, all
    /// within <paramref name="timeout"/>. pjsip must still be running (its workers deliver the answers).
    /// </summary>
    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        lock (_subscriptions)
        {
            foreach (var subscription in _subscriptions)
                subscription.Dispose();
            _subscriptions.Clear();
        }
        // A change being applied finishes first (it is bounded by its own unregister timeout).
        await _changes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_clients.Values.Select(c => c.StopAsync(timeout))).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>Stops without waiting for the registrar (see <see cref="StopAsync"/> for a clean unregistration).</summary>
    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.Zero).ConfigureAwait(false);

    internal async Task PublishAsync(RegistrationStatus status)
    {
        if (_options.PersistStatus && _store.MappedTypes.Contains(RegistrationStatus.Type))
        {
            try
            {
                await _store.UpsertAsync(status).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The registration goes on when its status cannot be written.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Logger.StatusWriteFailed(exception, status.Id);
            }
        }
        StatusChanged?.Invoke(this, new RegistrationStatusEventArgs(status));
    }

    private async Task<List<Auth>> CredentialsAsync(Registration registration, CancellationToken cancellationToken)
    {
        var credentials = new List<Auth>();
        if (!_store.MappedTypes.Contains(Auth.Type))
            return credentials;
        foreach (var id in registration.OutboundAuth)
        {
            if (await _store.GetAsync<Auth>(id, cancellationToken).ConfigureAwait(false) is { } auth)
                credentials.Add(auth);
            else
                Logger.AuthMissing(registration.Id, id);
        }
        return credentials;
    }

    // The port of the transport object the registration names, when it names one.
    private async Task<int?> BindPortAsync(Registration registration, CancellationToken cancellationToken)
    {
        if (registration.Transport.Length == 0 || !_store.MappedTypes.Contains(Transport.Type))
            return null;
        var transport = await _store.GetAsync<Transport>(registration.Transport, cancellationToken).ConfigureAwait(false);
        return transport?.Bind?.Port;
    }

    /// <summary>
    /// The Contact registered: <c>contact_user</c> (default <c>s</c>, as Asterisk) at the address of a
    /// transport of the server URI's protocol, the one bound to <paramref name="port"/> when given.
    /// </summary>
    internal string ContactFor(Registration registration, int? port)
    {
        var (protocol, host, serverPort) = Target(registration.ServerUri);
        var ipv6 = host.Contains(':', StringComparison.Ordinal);
        var candidates = _endpoint.Transports.Where(t => t.Protocol == protocol).ToList();
        var transport = candidates.FirstOrDefault(t => port is { } p && t.LocalEndPoint.Port == p)
            ?? candidates.FirstOrDefault(t => (t.LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6) == ipv6)
            ?? candidates.FirstOrDefault()
            ?? throw new InvalidOperationException($"no {protocol.ToString().ToUpperInvariant()} transport to register with {registration.ServerUri}");
        var address = LocalAddressTowards(transport, host, serverPort);
        var user = registration.ContactUser.Length > 0 ? registration.ContactUser : "s";
        var hostText = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        var parameter = protocol switch
        {
            SipTransportProtocol.Tcp => ";transport=tcp",
            SipTransportProtocol.Tls => ";transport=tls",
            _ => "",
        };
        return string.Create(CultureInfo.InvariantCulture, $"<sip:{user}@{hostText}:{transport.LocalEndPoint.Port}{parameter}>");
    }

    /// <summary>The protocol, host and port a REGISTER to <paramref name="serverUri"/> goes to (default ports 5060 / 5061).</summary>
    internal static (SipTransportProtocol Protocol, string Host, int Port) Target(string serverUri)
    {
        var secure = serverUri.StartsWith("sips:", StringComparison.OrdinalIgnoreCase);
        var protocol = secure ? SipTransportProtocol.Tls : SipTransportProtocol.Udp;
        var parameters = serverUri.Split(';');
        foreach (var parameter in parameters.Skip(1))
        {
            var value = parameter.Trim().TrimEnd('>');
            if (value.Equals("transport=tcp", StringComparison.OrdinalIgnoreCase))
                protocol = secure ? SipTransportProtocol.Tls : SipTransportProtocol.Tcp;
            else if (value.Equals("transport=tls", StringComparison.OrdinalIgnoreCase))
                protocol = SipTransportProtocol.Tls;
        }
        // sip:[user@]host[:port]
        var hostPart = parameters[0][(parameters[0].IndexOf(':', StringComparison.Ordinal) + 1)..].TrimStart('<');
        var at = hostPart.LastIndexOf('@');
        if (at >= 0)
            hostPart = hostPart[(at + 1)..];
        hostPart = hostPart.TrimEnd('>');
        string host;
        var port = 0;
        if (hostPart.StartsWith('['))
        {
            var close = hostPart.IndexOf(']', StringComparison.Ordinal);
            host = close > 0 ? hostPart[1..close] : hostPart.Trim('[', ']');
            if (close > 0 && close + 2 < hostPart.Length && hostPart[close + 1] == ':')
                _ = int.TryParse(hostPart[(close + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out port);
        }
        else
        {
            var colon = hostPart.LastIndexOf(':');
            host = colon >= 0 ? hostPart[..colon] : hostPart;
            if (colon >= 0)
                _ = int.TryParse(hostPart[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port);
        }
        return (protocol, host, port == 0 ? (protocol == SipTransportProtocol.Tls ? 5061 : 5060) : port);
    }

    /// <summary>The transport's address, or for a wildcard bind the local address the system routes to the registrar from.</summary>
    private static IPAddress LocalAddressTowards(SipTransportInfo transport, string host, int port)
    {
        var bound = transport.LocalEndPoint.Address;
        if (!bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any))
            return bound;
        var fallback = bound.Equals(IPAddress.Any) ? IPAddress.Loopback : IPAddress.IPv6Loopback;
        if (!IPAddress.TryParse(host, out var target))
            return fallback;
        try
        {
            // Connecting a UDP socket sends nothing; it only asks the routing table for the source address.
            using var probe = new Socket(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(new IPEndPoint(target, port));
            return probe.LocalEndPoint is IPEndPoint local ? local.Address : fallback;
        }
        catch (SocketException)
        {
            return fallback;
        }
    }
}
