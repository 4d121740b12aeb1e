using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Diagnostics;
using PjSharp.Interception;
using PjSharp.Services;
using PjSharp.Servants;

namespace PjSharp.Registrar;

/// <summary>Registrar settings.</summary>
public sealed class RegistrarOptions
{
    /// <summary>
    /// This node's name, stored with each binding (<c>reg_server</c>); also the holder of the expiry lease, so nodes
    /// sharing a database must have different names.
    /// </summary>
    public string NodeName { get; set; } = Environment.MachineName;

    /// <summary>The Retry-After of a 503 when the AOR's queue is full.</summary>
    public int RetryAfterSeconds { get; set; } = 5;

    /// <summary>How often expired bindings are removed from the database.</summary>
    public TimeSpan ExpiryCheckInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The registrar (RFC 3261 §10.3, the behaviour of Asterisk's res_pjsip_registrar). On the
/// pjsip thread it only checks who is registering, reads the request and hands it to the AOR's
/// servant; there the bindings are planned, written (group commit: the 200 goes out only once
/// the contact is on disk) and answered without a transaction: a retransmission gets the same
/// answer again, and no 20 KB transaction lives on for 32 s per REGISTER.
/// </summary>
public sealed partial class RegistrarService : SipService, IAsyncDisposable
{
    private readonly SipEndpoint _endpoint;
    private readonly InterceptionPipeline _interception;
    private readonly ObjectStore _store;
    private readonly ContactWriter _writer;
    private readonly ServantDispatcher<string> _servants;
    private readonly RegistrarOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ITimer _expiry;
    private readonly KeyValuePair<string, string>[] _retryAfter;
    private long _registered;
    private int _expiring;
    // The bindings of each AOR as last read or written: the AOR's servant is its only writer here,
    // so a REGISTER reads them from memory; writes made elsewhere (another node, a tool) drop the
    // AOR's entry through the store's observers, and the next REGISTER reads the database again.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<Contact>> _bindings = new(StringComparer.Ordinal);
    private readonly IDisposable? _observer;
    // The AORs registered over each open WebSocket connection (address|port), removed when it closes.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Collections.Concurrent.ConcurrentDictionary<string, byte>> _flows = new(StringComparer.Ordinal);

    public RegistrarService(SipEndpoint endpoint, InterceptionPipeline interception, ObjectStore store, ContactWriter writer,
        ServantDispatcher<string> servants, RegistrarOptions? options = null, ILogger? logger = null, TimeProvider? time = null)
        : base("pjsharp-registrar", SipServicePriority.Application - 1)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(interception);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(servants);
        _endpoint = endpoint;
        _interception = interception;
        _store = store;
        _writer = writer;
        _servants = servants;
        _options = options ?? new RegistrarOptions();
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _retryAfter = [new("Retry-After", _options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture))];
        _expiry = _time.CreateTimer(_ => _ = RemoveExpiredAsync(), null, _options.ExpiryCheckInterval, _options.ExpiryCheckInterval);
        if (store.MappedTypes.Contains(Contact.Type))
            _observer = store.AddObserver<Contact>(new BindingObserver(_bindings));
    }

    public override IReadOnlyCollection<string> Methods => ["REGISTER"];

    /// <summary>The bindings of <paramref name="aor"/> as this registrar last read or wrote them; false when it has none in memory.</summary>
    internal bool TryGetBindings(string aor, out IReadOnlyList<Contact> bindings) => _bindings.TryGetValue(aor, out bindings!);

    /// <summary>Unexpired bindings among the AORs this registrar has seen (what it keeps in memory).</summary>
    public int ActiveBindings
    {
        get
        {
            var now = _time.GetUtcNow();
            var count = 0;
            foreach (var (_, contacts) in _bindings)
            {
                foreach (var contact in contacts)
                {
                    if (contact.ExpirationTime > now)
                        count++;
                }
            }
            return count;
        }
    }

    /// <summary>REGISTERs answered 200.</summary>
    public long Registered => Interlocked.Read(ref _registered);

    public override bool OnRequest(SipRequest request)
    {
        if (request.Method != SipMethod.Register)
            return false;
        var endpoint = _interception.GetEndpoint(request, out var authenticated);
        var activity = PjSharpActivities.StartServer("REGISTER", request, endpoint?.Id);
        if (endpoint == null || endpoint.IsArtificial || (endpoint.RequiresAuthentication && !authenticated))
        {
            request.RespondStateless(403);
            PjSharpActivities.Stop(activity, 403);
            return true;
        }
        var aor = FindAor(endpoint, request.ToUser);
        if (aor == null)
        {
            LogAorNotFound(_logger, endpoint.Id, Encoding.UTF8.GetString(request.ToUser));
            request.RespondStateless(404);
            PjSharpActivities.Stop(activity, 404);
            return true;
        }
        // Reading the request (strings, Contact parsing) is the servant's work, off this thread.
        var clone = request.Clone();
        if (!_servants.TryEnqueue(aor.Id, new RegisterWork(this, aor, endpoint.Id, clone, activity)))
        {
            clone.Dispose();
            LogOverloaded(_logger, aor.Id);
            request.RespondStateless(503, _retryAfter);
            PjSharpActivities.Stop(activity, 503);
        }
        return true;
    }

    /// <summary>What the planner needs, read off the request; null when its Contact headers do not parse.</summary>
    private static (RegisterRequest? Request, string? Error) ReadRegistration(SipRequest request)
    {
        if (!ContactHeaderParser.TryParse(request.GetHeaders("Contact"), out var contacts, out var error))
            return (null, error);
        var expires = request.Expires;
        var source = request.Source;
        var transport = request.Transport;
        var viaWebSocket = source != null && (transport.Equals("WS", StringComparison.OrdinalIgnoreCase) || transport.Equals("WSS", StringComparison.OrdinalIgnoreCase));
        if (viaWebSocket)
        {
            // A browser's Contact names a host nobody can resolve (RFC 7118 §5): bind the connection
            // it came on instead, so requests to the contact leave through that socket.
            var name = transport.ToLowerInvariant();
            contacts = [.. contacts!.Select(c => c.IsWildcard ? c : c.WithUri(ContactUri.WithTarget(c.Uri, source!, name)))];
        }
        return (new RegisterRequest
        {
            Contacts = contacts!,
            PruneOnBoot = viaWebSocket,
            Expires = expires is >= 0 ? (uint)expires.Value : null,
            CallId = request.CallId,
            CSeq = (uint)Math.Max(0, request.CSeq),
            Path = request.GetHeaders("Path"),
            Supported = [.. request.GetHeaders("Supported").SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))],
            UserAgent = request.GetHeader("User-Agent") ?? "",
            ViaAddress = source?.Address.ToString() ?? "",
            ViaPort = (uint)(source?.Port ?? 0),
        }, null);
    }

    private static Aor? FindAor(EndpointIdentity endpoint, ReadOnlySpan<byte> user)
    {
        if (user.IsEmpty || user.Length > 256)
            return null;
        Span<char> name = stackalloc char[256];
        if (!Encoding.UTF8.TryGetChars(user, name, out var length))
            return null;
        foreach (var aor in endpoint.Aors)
        {
            if (name[..length].SequenceEqual(aor.Id))
                return aor;
        }
        return null;
    }

    private async Task HandleAsync(Aor aor, string endpoint, SipRequestClone request, Activity? activity, CancellationToken cancellationToken)
    {
        var answered = 0;
        if (activity != null)
            Activity.Current = activity;
        try
        {
            var (read, error) = request.Read(ReadRegistration);
            if (read == null)
            {
                LogBadContact(_logger, endpoint, error ?? "");
                request.RespondStateless(400);
                answered = 400;
                return;
            }
            var registration = read with { Endpoint = endpoint, RegistrationServer = _options.NodeName };
            if (!_bindings.TryGetValue(aor.Id, out var current))
            {
                current = await _store.FindByPrefixAsync<Contact>(Contact.IdPrefix(aor.Id), cancellationToken).ConfigureAwait(false);
                _bindings[aor.Id] = current;
            }
            var now = _time.GetUtcNow();
            var decision = BindingPlanner.Plan(aor, current, registration, now);
            if (decision.Rejection is { } rejection)
            {
                LogRejected(_logger, aor.Id, rejection.StatusCode, rejection.Detail);
                var headers = new List<KeyValuePair<string, string>>();
                if (rejection.MinExpires is { } minimum)
                    headers.Add(new("Min-Expires", minimum.ToString(CultureInfo.InvariantCulture)));
                if (rejection.StatusCode == 420)
                    headers.Add(new("Unsupported", "path"));
                request.RespondStateless(rejection.StatusCode, headers);
                answered = rejection.StatusCode;
                return;
            }
            var plan = decision.Plan!;
            if (plan.HasChanges)
            {
                // Remembered before the write, so the store's report of it matches and keeps the entry.
                _bindings[aor.Id] = [.. plan.Bindings.Select(b => b.Contact)];
                try
                {
                    await _writer.WriteAsync(plan.ToWrites(), cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    _bindings.TryRemove(aor.Id, out _);
                    throw;
                }
            }
            if (registration.PruneOnBoot && registration.ViaAddress.Length > 0)
                RememberFlow(FlowKey(registration.ViaAddress, (int)registration.ViaPort), aor.Id);
            request.RespondStateless(200, Answer(plan, now));
            answered = 200;
            Interlocked.Increment(ref _registered);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // Nothing was acknowledged: the phone retries. 503 says the fault is ours and passing.
            if (error is BackendUnavailableException)
                LogUnavailable(_logger, aor.Id, error.Message);
            else
                LogFailed(_logger, error, aor.Id);
            try
            {
                request.RespondStateless(503, _retryAfter);
                answered = 503;
            }
            catch (Exception answerError) when (answerError is not OutOfMemoryException)
            {
                LogFailed(_logger, answerError, aor.Id);
            }
        }
        finally
        {
            request.Dispose();
            PjSharpActivities.Stop(activity, answered);
        }
    }

    private static List<KeyValuePair<string, string>> Answer(BindingPlan plan, DateTimeOffset now)
    {
        var headers = new List<KeyValuePair<string, string>>(plan.Bindings.Count + 4);
        foreach (var binding in plan.Bindings)
            headers.Add(new("Contact", string.Create(CultureInfo.InvariantCulture, $"<{binding.Uri}>;expires={binding.ExpiresIn}")));
        if (plan.Expires is { } expires)
            headers.Add(new("Expires", expires.ToString(CultureInfo.InvariantCulture)));
        foreach (var path in plan.Path)
            headers.Add(new("Path", path));
        if (plan.Path.Count > 0)
            headers.Add(new("Supported", "path"));
        headers.Add(new("Date", now.UtcDateTime.ToString("r", CultureInfo.InvariantCulture)));
        return headers;
    }

    /// <summary>
    /// Removes bindings that expired. Nodes sharing a database take a lease first, so one node removes them (and takes
    /// over within three check intervals when that node stops); alone, the lease is always granted.
    /// </summary>
    public async Task RemoveExpiredAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _expiring, 1) != 0)
            return;
        try
        {
            if (!await _store.TryAcquireLeaseAsync(Contact.Type, "contact-expiry", _options.NodeName, _options.ExpiryCheckInterval * 3, cancellationToken).ConfigureAwait(false))
                return;
            var now = _time.GetUtcNow();
            var expired = (await _store.GetAllAsync<Contact>(cancellationToken).ConfigureAwait(false))
                .Where(c => c.ExpirationTime <= now).ToList();
            if (expired.Count == 0)
                return;
            foreach (var aor in expired.Select(c => c.Aor).Distinct())
                _bindings.TryRemove(aor, out _);
            await _writer.WriteAsync([.. expired.Select(ObjectWrite.Delete)], cancellationToken).ConfigureAwait(false);
            LogExpired(_logger, expired.Count);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // The backend logs a database outage once; each failed check need not repeat it.
            if (error is BackendUnavailableException)
                LogUnavailable(_logger, "expiry", error.Message);
            else
                LogExpiryFailed(_logger, error);
        }
        finally
        {
            Volatile.Write(ref _expiring, 0);
        }
    }

    private static string FlowKey(string address, int port) => string.Create(CultureInfo.InvariantCulture, $"{address}|{port}");

    private void RememberFlow(string flow, string aor) =>
        _flows.GetOrAdd(flow, _ => new System.Collections.Concurrent.ConcurrentDictionary<string, byte>(StringComparer.Ordinal)).TryAdd(aor, 0);

    /// <summary>
    /// A WebSocket connection closed (Asterisk removes such contacts too): the bindings registered over it can no
    /// longer be reached, so they are removed, each AOR on its own servant like a REGISTER. Returns how many AORs were queued.
    /// </summary>
    public int RemoveConnectionBindings(System.Net.IPEndPoint source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var address = source.Address.IsIPv4MappedToIPv6 ? source.Address.MapToIPv4() : source.Address;
        var flowAddress = address.ToString();
        if (!_flows.TryRemove(FlowKey(flowAddress, source.Port), out var aors))
            return 0;
        var queued = 0;
        foreach (var aor in aors.Keys)
        {
            if (_servants.TryEnqueue(aor, ct => RemoveFlowBindingsAsync(aor, flowAddress, (uint)source.Port, ct)))
                queued++;
            else
                LogFlowRemovalRefused(_logger, aor);
        }
        return queued;
    }

    private async ValueTask RemoveFlowBindingsAsync(string aor, string address, uint port, CancellationToken cancellationToken)
    {
        try
        {
            if (!_bindings.TryGetValue(aor, out var current))
                current = await _store.FindByPrefixAsync<Contact>(Contact.IdPrefix(aor), cancellationToken).ConfigureAwait(false);
            var gone = current.Where(c => c.PruneOnBoot && c.ViaPort == port && c.ViaAddress == address).ToList();
            if (gone.Count == 0)
                return;
            _bindings[aor] = [.. current.Except(gone)];
            try
            {
                await _writer.WriteAsync([.. gone.Select(ObjectWrite.Delete)], cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                _bindings.TryRemove(aor, out _);
                throw;
            }
            LogFlowBindingsRemoved(_logger, gone.Count, aor);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            LogFailed(_logger, error, aor);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _observer?.Dispose();
        await _expiry.DisposeAsync().ConfigureAwait(false);
        _endpoint.UnregisterService(this);
    }

    private sealed class BindingObserver(System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<Contact>> bindings) : IObjectObserver
    {
        public void Created(ObjectChange change) => Check(change);

        public void Updated(ObjectChange change) => Check(change);

        public void Deleted(ObjectChange change)
        {
            // A deletion this registrar planned is already gone from the entry.
            var aor = change.Value is Contact contact ? contact.Aor : AorOf(change.Id);
            if (bindings.TryGetValue(aor, out var known) && known.Any(c => c.Id == change.Id))
                bindings.TryRemove(aor, out _);
        }

        public void Reloaded(ObjectType type) => bindings.Clear();

        private static string AorOf(string contactId)
        {
            var at = contactId.IndexOf(";@", StringComparison.Ordinal);
            return at < 0 ? contactId : contactId[..at];
        }

        private void Check(ObjectChange change)
        {
            if (change.Value is not Contact contact)
            {
                // Another node's write names the contact only: that AOR alone is read again.
                bindings.TryRemove(AorOf(change.Id), out _);
                return;
            }
            if (bindings.TryGetValue(contact.Aor, out var known) && !known.Contains(contact))
                bindings.TryRemove(contact.Aor, out _);
        }
    }

    private sealed class RegisterWork(RegistrarService registrar, Aor aor, string endpoint, SipRequestClone request, Activity? activity) : ServantWork
    {
        public override async ValueTask RunAsync(CancellationToken cancellationToken) =>
            await registrar.HandleAsync(aor, endpoint, request, activity, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "REGISTER from endpoint {Endpoint} names AOR '{Aor}', which is not one of its aors")]
    private static partial void LogAorNotFound(ILogger logger, string endpoint, string aor);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "REGISTER from endpoint {Endpoint} has a bad Contact: {Error}")]
    private static partial void LogBadContact(ILogger logger, string endpoint, string error);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "REGISTER for AOR {Aor} answered 503: its queue is full")]
    private static partial void LogOverloaded(ILogger logger, string aor);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Information, Message = "REGISTER for AOR {Aor} rejected with {Status}: {Detail}")]
    private static partial void LogRejected(ILogger logger, string aor, int status, string detail);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Error, Message = "REGISTER for AOR {Aor} failed; answered 503")]
    private static partial void LogFailed(ILogger logger, Exception exception, string aor);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Debug, Message = "REGISTER for AOR {Aor} answered 503: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string aor, string reason);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Information, Message = "Removed {Count} expired bindings")]
    private static partial void LogExpired(ILogger logger, int count);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Information, Message = "Removed {Count} bindings of AOR {Aor}: the WebSocket connection they were registered over closed")]
    private static partial void LogFlowBindingsRemoved(ILogger logger, int count, string aor);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Warning, Message = "Bindings of AOR {Aor} over a closed WebSocket connection stay until they expire: its queue is full")]
    private static partial void LogFlowRemovalRefused(ILogger logger, string aor);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Error, Message = "Removing expired bindings failed; trying again later")]
    private static partial void LogExpiryFailed(ILogger logger, Exception exception);
}
