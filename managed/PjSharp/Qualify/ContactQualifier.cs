using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Registrar;
using PjSharp.Services;

namespace PjSharp.Qualify;

/// <summary>Qualify settings that are not per AOR.</summary>
public sealed class QualifyOptions
{
    /// <summary>How often an unchanged status is written again when its round-trip time moved: the rtt kept in the store is at most this old.</summary>
    public TimeSpan RoundTripWriteInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Nodes sharing one database: qualify only the bindings this node registered (their <c>reg_server</c>) and the
    /// permanent contacts, so a phone gets one OPTIONS per interval, not one per node. Null: every contact.
    /// </summary>
    public string? RegistrationServer { get; set; }

    /// <summary>The From URI of the OPTIONS; empty: <c>sip:pjsharp@</c> and the first transport's address.</summary>
    public string FromUri { get; set; } = "";
}

/// <summary>
/// Qualify (Asterisk's res_pjsip_qualify): an OPTIONS to each contact whose AOR has a
/// <c>qualify_frequency</c>, permanent or registered, every that many seconds, waiting
/// <c>qualify_timeout</c> for an answer. Any final response but 408 means reachable. The schedule
/// lives in memory, fed by the initial load and the store's observers, so a new binding is qualified
/// at once and a removed one is forgotten with its status. The status (<see cref="ContactStatus"/>)
/// is written when it changes, and the round-trip time at most every
/// <see cref="QualifyOptions.RoundTripWriteInterval"/>.
/// </summary>
public sealed partial class ContactQualifier : IAsyncDisposable
{
    private static readonly TimeSpan IdleWait = TimeSpan.FromSeconds(1);

    private readonly SipEndpoint _endpoint;
    private readonly ObjectStore _store;
    private readonly QualifyOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RequestSender _sender;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly PriorityQueue<Entry, long> _schedule = new();
    private readonly ConcurrentDictionary<string, byte> _unreachable = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly SemaphoreSlim _writes = new(1, 1);
    private readonly ConcurrentDictionary<Task, byte> _work = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<IDisposable> _observers = [];
    private Task _loop = Task.CompletedTask;
    private string _from = "";
    private int _resyncing;
    private int _disposed;

    public ContactQualifier(SipEndpoint endpoint, ObjectStore store, QualifyOptions? options = null, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(store);
        _endpoint = endpoint;
        _store = store;
        _options = options ?? new QualifyOptions();
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _sender = new RequestSender(endpoint, "pjsharp-qualify-requests");
    }

    /// <summary>Contacts being qualified.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _entries.Count;
        }
    }

    /// <summary>
    /// False only for a contact the last qualify found unreachable; contacts never qualified, or with
    /// qualify off, may be used. Plug into <see cref="ContactLocator.IsReachable"/>.
    /// </summary>
    public bool IsReachable(Contact contact)
    {
        ArgumentNullException.ThrowIfNull(contact);
        return !_unreachable.ContainsKey(contact.Id);
    }

    /// <summary>The status as qualify knows it now; null when the contact is not qualified.</summary>
    public ContactStatus? GetStatus(string contactId)
    {
        lock (_gate)
        {
            return _entries.TryGetValue(contactId, out var entry) ? entry.ToStatus(_time.GetUtcNow()) : null;
        }
    }

    /// <summary>Loads the contacts to qualify, follows the store's changes and starts sending OPTIONS.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        _endpoint.RegisterService(_sender);
        _from = _options.FromUri.Length > 0 ? _options.FromUri : DefaultFrom(_endpoint);
        var observer = new StoreObserver(this);
        if (_store.MappedTypes.Contains(Contact.Type))
            _observers.Add(_store.AddObserver<Contact>(observer));
        if (_store.MappedTypes.Contains(Aor.Type))
            _observers.Add(_store.AddObserver<Aor>(observer));
        await ResyncAsync(cancellationToken).ConfigureAwait(false);
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    private static string DefaultFrom(SipEndpoint endpoint)
    {
        var local = endpoint.Transports.Count > 0 ? endpoint.Transports[0].LocalEndPoint : null;
        if (local == null || local.Address.Equals(System.Net.IPAddress.Any) || local.Address.Equals(System.Net.IPAddress.IPv6Any))
            return "<sip:pjsharp@localhost>";
        var host = local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{local.Address}]" : local.Address.ToString();
        return $"<sip:pjsharp@{host}>";
    }

    /// <summary>Reads every AOR and contact again and makes the schedule match; statuses of contacts no longer qualified are removed.</summary>
    public async Task ResyncAsync(CancellationToken cancellationToken = default)
    {
        var wanted = new Dictionary<string, (Contact Contact, bool Permanent)>(StringComparer.Ordinal);
        if (_store.MappedTypes.Contains(Aor.Type))
        {
            foreach (var aor in await _store.GetAllAsync<Aor>(cancellationToken).ConfigureAwait(false))
            {
                foreach (var uri in aor.Contacts)
                {
                    var contact = ContactLocator.Permanent(aor, uri);
                    wanted[contact.Id] = (contact, true);
                }
            }
        }
        if (_store.MappedTypes.Contains(Contact.Type))
        {
            foreach (var contact in await _store.GetAllAsync<Contact>(cancellationToken).ConfigureAwait(false))
                wanted[contact.Id] = (contact, false);
        }
        var now = _time.GetUtcNow();
        List<Entry> removed = [];
        lock (_gate)
        {
            foreach (var entry in _entries.Values.ToList())
            {
                if (!wanted.TryGetValue(entry.Contact.Id, out var want) || !Qualifies(want.Contact, now))
                    removed.Add(RemoveLocked(entry));
            }
            foreach (var (contact, permanent) in wanted.Values)
                UpsertLocked(contact, permanent, now);
        }
        foreach (var entry in removed)
            Track(ForgetAsync(entry));
        if (_store.MappedTypes.Contains(ContactStatus.Type))
        {
            // Statuses left by an earlier run: kept for contacts still qualified (rewritten by their first probe), else removed.
            foreach (var status in await _store.GetAllAsync<ContactStatus>(cancellationToken).ConfigureAwait(false))
            {
                // Under the write lock, so a probe of a contact added meanwhile cannot write between the check and the delete.
                await _writes.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    bool known;
                    lock (_gate)
                    {
                        known = _entries.TryGetValue(status.Id, out var entry);
                        if (known)
                            entry!.Stored = true;
                    }
                    if (!known)
                        await DeleteStatusAsync(status.Id, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _writes.Release();
                }
            }
        }
        Wake();
    }

    private bool Qualifies(Contact contact, DateTimeOffset now) =>
        contact.QualifyFrequency > 0 && contact.Uri.Length > 0
        && (_options.RegistrationServer is not { } node || contact.ExpirationTime == DateTimeOffset.UnixEpoch
            || string.Equals(contact.RegistrationServer, node, StringComparison.Ordinal))
        && (contact.ExpirationTime == DateTimeOffset.UnixEpoch || contact.ExpirationTime > now);

    private void Upsert(Contact contact, bool permanent)
    {
        Entry? removed = null;
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (Qualifies(contact, now))
                UpsertLocked(contact, permanent, now);
            else if (_entries.TryGetValue(contact.Id, out var entry))
                removed = RemoveLocked(entry);
        }
        if (removed != null)
            Track(ForgetAsync(removed));
        Wake();
    }

    private void UpsertLocked(Contact contact, bool permanent, DateTimeOffset now)
    {
        if (!Qualifies(contact, now))
            return;
        if (_entries.TryGetValue(contact.Id, out var entry))
        {
            var frequency = entry.Contact.QualifyFrequency;
            entry.Contact = contact;
            entry.Permanent = permanent;
            // A shorter period takes effect now rather than after the old one.
            var sooner = now.AddSeconds(contact.QualifyFrequency).UtcTicks;
            if (contact.QualifyFrequency < frequency && !entry.InFlight && sooner < entry.Due)
            {
                entry.Due = sooner;
                _schedule.Enqueue(entry, sooner);
            }
            return;
        }
        // New: qualified at once, as Asterisk does, so a fresh binding's reachability is known early.
        entry = new Entry(contact, permanent) { Due = now.UtcTicks };
        _entries[contact.Id] = entry;
        _schedule.Enqueue(entry, entry.Due);
        LogScheduled(_logger, contact.Id, contact.Uri, contact.QualifyFrequency);
    }

    private void Remove(string id)
    {
        Entry? removed = null;
        lock (_gate)
        {
            if (_entries.TryGetValue(id, out var entry))
                removed = RemoveLocked(entry);
        }
        if (removed != null)
            Track(ForgetAsync(removed));
    }

    private void RemoveAor(string aorId)
    {
        List<Entry> removed = [];
        lock (_gate)
        {
            foreach (var entry in _entries.Values.Where(e => e.Permanent && e.Contact.Aor == aorId).ToList())
                removed.Add(RemoveLocked(entry));
        }
        foreach (var entry in removed)
            Track(ForgetAsync(entry));
    }

    private void SyncAor(Aor aor)
    {
        var listed = aor.Contacts.Select(uri => ContactLocator.Permanent(aor, uri)).ToDictionary(c => c.Id, StringComparer.Ordinal);
        var now = _time.GetUtcNow();
        List<Entry> removed = [];
        lock (_gate)
        {
            foreach (var entry in _entries.Values.Where(e => e.Permanent && e.Contact.Aor == aor.Id && !listed.ContainsKey(e.Contact.Id)).ToList())
                removed.Add(RemoveLocked(entry));
            foreach (var contact in listed.Values)
            {
                if (Qualifies(contact, now))
                    UpsertLocked(contact, permanent: true, now);
                else if (_entries.TryGetValue(contact.Id, out var entry))
                    removed.Add(RemoveLocked(entry));
            }
        }
        foreach (var entry in removed)
            Track(ForgetAsync(entry));
        Wake();
    }

    private Entry RemoveLocked(Entry entry)
    {
        _entries.Remove(entry.Contact.Id);
        entry.Removed = true;
        _unreachable.TryRemove(entry.Contact.Id, out _);
        LogUnscheduled(_logger, entry.Contact.Id);
        return entry;
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already awake.
        }
    }

    private void Track(Task task)
    {
        _work[task] = 0;
        _ = task.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(t, out _),
            _work, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var due = new List<Entry>();
            var expired = new List<Entry>();
            TimeSpan wait;
            var now = _time.GetUtcNow();
            lock (_gate)
            {
                while (_schedule.TryPeek(out var entry, out var at) && at <= now.UtcTicks)
                {
                    _schedule.Dequeue();
                    // Stale queue items (rescheduled, removed, still waiting for an answer) are skipped.
                    if (entry.Removed || entry.Due != at || entry.InFlight)
                        continue;
                    if (!Qualifies(entry.Contact, now))
                    {
                        expired.Add(RemoveLocked(entry));
                        continue;
                    }
                    entry.InFlight = true;
                    due.Add(entry);
                }
                wait = _schedule.TryPeek(out _, out var next) ? TimeSpan.FromTicks(Math.Max(0, next - now.UtcTicks)) : IdleWait;
            }
            foreach (var entry in expired)
                Track(ForgetAsync(entry));
            foreach (var entry in due)
                Track(ProbeAsync(entry));
            try
            {
                await _wake.WaitAsync(wait < IdleWait ? wait : IdleWait, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ProbeAsync(Entry entry)
    {
        var contact = entry.Contact;
        RequestOutcome outcome;
        try
        {
            outcome = await SendOptionsAsync(contact).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            LogProbeFailed(_logger, error, contact.Id, contact.Uri);
            outcome = new RequestOutcome(503, false, TimeSpan.Zero);
        }
        try
        {
            await RecordAsync(entry, outcome).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            LogWriteFailed(_logger, error is BackendUnavailableException ? null : error, contact.Id);
        }
        finally
        {
            var due = _time.GetUtcNow().AddSeconds(contact.QualifyFrequency).UtcTicks;
            lock (_gate)
            {
                entry.InFlight = false;
                if (!entry.Removed)
                {
                    entry.Due = due;
                    _schedule.Enqueue(entry, due);
                }
            }
            Wake();
        }
    }

    private unsafe Task<RequestOutcome> SendOptionsAsync(Contact contact)
    {
        var tdata = _sender.CreateRequest("OPTIONS", contact.Uri, _from, $"<{contact.Uri}>");
        try
        {
            // A binding made through proxies is reached through them (RFC 3327).
            foreach (var route in contact.Path.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                RequestSender.AddHeader(tdata, "Route", route);
        }
        catch
        {
            _ = Interop.PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
            throw;
        }
        var timeout = TimeSpan.FromSeconds(Math.Clamp(contact.QualifyTimeout, 0.1, 60));
        return _sender.Send(tdata, timeout);
    }

    private async Task RecordAsync(Entry entry, RequestOutcome outcome)
    {
        var reachable = outcome.Answered && outcome.StatusCode != 408;
        var status = reachable ? ContactReachability.Reachable : ContactReachability.Unreachable;
        var rtt = reachable ? (ulong)Math.Max(1, outcome.RoundTrip.TotalMicroseconds) : 0;
        await _writes.WaitAsync().ConfigureAwait(false);
        try
        {
            if (entry.Removed)
                return;
            var now = _time.GetUtcNow();
            var changed = status != entry.Status;
            ContactStatus snapshot;
            bool write;
            lock (_gate)
            {
                entry.Status = status;
                entry.RoundTripMicroseconds = rtt;
                if (reachable)
                    _unreachable.TryRemove(entry.Contact.Id, out _);
                else
                    _unreachable[entry.Contact.Id] = 0;
                write = changed || !entry.Stored
                    || (reachable && rtt != entry.WrittenRoundTrip && now - entry.WrittenAt >= _options.RoundTripWriteInterval);
                snapshot = entry.ToStatus(now);
            }
            if (changed)
            {
                if (reachable)
                    LogReachable(_logger, entry.Contact.Id, entry.Contact.Uri, outcome.StatusCode, rtt / 1000.0);
                else
                    LogUnreachable(_logger, entry.Contact.Id, entry.Contact.Uri, outcome.StatusCode, outcome.Answered);
            }
            if (!write || !_store.MappedTypes.Contains(ContactStatus.Type))
                return;
            _ = await _store.UpsertAsync(snapshot).ConfigureAwait(false);
            lock (_gate)
            {
                entry.Stored = true;
                entry.WrittenAt = now;
                entry.WrittenRoundTrip = rtt;
            }
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>A contact no longer qualified: its status goes away too.</summary>
    private async Task ForgetAsync(Entry entry)
    {
        await _writes.WaitAsync().ConfigureAwait(false);
        try
        {
            if (entry.Stored && _store.MappedTypes.Contains(ContactStatus.Type))
                await DeleteStatusAsync(entry.Contact.Id, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _writes.Release();
        }
    }

    private async Task DeleteStatusAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            _ = await _store.DeleteAsync<ContactStatus>(id, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OutOfMemoryException and not OperationCanceledException)
        {
            LogWriteFailed(_logger, error, id);
        }
    }

    /// <summary>Reads one contact another node wrote, and qualifies it or stops, as for a local write.</summary>
    private void RefreshLater(string id)
    {
        // Nodes sharing contacts qualify their own: one another node wrote is that node's now.
        if (_options.RegistrationServer != null)
        {
            Remove(id);
            return;
        }
        Track(Task.Run(async () =>
        {
            try
            {
                if (await _store.GetAsync<Contact>(id, _stop.Token).ConfigureAwait(false) is { } contact)
                    Upsert(contact, permanent: false);
                else
                    Remove(id);
            }
            catch (Exception error) when (error is not OutOfMemoryException and not OperationCanceledException)
            {
                LogResyncFailed(_logger, error is BackendUnavailableException ? null : error);
            }
        }));
    }

    private void ResyncLater()
    {
        if (Interlocked.Exchange(ref _resyncing, 1) != 0)
            return;
        Track(Task.Run(async () =>
        {
            try
            {
                await ResyncAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                LogResyncFailed(_logger, error is BackendUnavailableException ? null : error);
            }
            finally
            {
                Volatile.Write(ref _resyncing, 0);
            }
        }));
    }

    /// <summary>Stops sending, waits for the probes in flight (each ends by its timeout) and the status writes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        foreach (var observer in _observers)
            observer.Dispose();
        _observers.Clear();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (_sender.ModuleId >= 0)
            _sender.Dispose();
        try
        {
            await Task.WhenAll(_work.Keys).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        _stop.Dispose();
    }

    private sealed class Entry(Contact contact, bool permanent)
    {
        public Contact Contact { get; set; } = contact;

        public bool Permanent { get; set; } = permanent;

        /// <summary>When the next OPTIONS goes (UTC ticks); the queue holds it with this priority.</summary>
        public long Due { get; set; }

        public bool InFlight { get; set; }

        public bool Removed { get; set; }

        public ContactReachability Status { get; set; }

        public ulong RoundTripMicroseconds { get; set; }

        /// <summary>A status row exists in the store.</summary>
        public bool Stored { get; set; }

        public DateTimeOffset WrittenAt { get; set; }

        public ulong WrittenRoundTrip { get; set; }

        public ContactStatus ToStatus(DateTimeOffset now) => new(Contact.Id)
        {
            Aor = Contact.Aor,
            Uri = Contact.Uri,
            Status = Status,
            RoundTripMicroseconds = RoundTripMicroseconds,
            UpdatedAt = now,
        };
    }

    private sealed class StoreObserver(ContactQualifier qualifier) : IObjectObserver
    {
        public void Created(ObjectChange change) => Changed(change);

        public void Updated(ObjectChange change) => Changed(change);

        public void Deleted(ObjectChange change)
        {
            if (change.Type == Contact.Type)
                qualifier.Remove(change.Id);
            else if (change.Type == Aor.Type)
                qualifier.RemoveAor(change.Id);
        }

        public void Reloaded(ObjectType type) => qualifier.ResyncLater();

        private void Changed(ObjectChange change)
        {
            switch (change.Value)
            {
                case Contact contact:
                    qualifier.Upsert(contact, permanent: false);
                    break;
                case Aor aor:
                    qualifier.SyncAor(aor);
                    break;
                case null when change.Type == Contact.Type:
                    qualifier.RefreshLater(change.Id);
                    break;
                default:
                    qualifier.ResyncLater();
                    break;
            }
        }
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Debug, Message = "Qualifying contact {Contact} ({Uri}) every {Frequency} s")]
    private static partial void LogScheduled(ILogger logger, string contact, string uri, uint frequency);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Debug, Message = "No longer qualifying contact {Contact}")]
    private static partial void LogUnscheduled(ILogger logger, string contact);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Contact {Contact} ({Uri}) is reachable: {Status} in {RoundTripMilliseconds} ms")]
    private static partial void LogReachable(ILogger logger, string contact, string uri, int status, double roundTripMilliseconds);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "Contact {Contact} ({Uri}) is unreachable: {Status} (answered: {Answered})")]
    private static partial void LogUnreachable(ILogger logger, string contact, string uri, int status, bool answered);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "OPTIONS to contact {Contact} ({Uri}) could not be sent")]
    private static partial void LogProbeFailed(ILogger logger, Exception exception, string contact, string uri);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Error, Message = "Writing the status of contact {Contact} failed")]
    private static partial void LogWriteFailed(ILogger logger, Exception? exception, string contact);

    // Without an exception when the database is away: the backend logs that outage once.
    [LoggerMessage(EventId = 1407, Level = LogLevel.Error, Message = "Reading the contacts to qualify failed")]
    private static partial void LogResyncFailed(ILogger logger, Exception? exception);
}
