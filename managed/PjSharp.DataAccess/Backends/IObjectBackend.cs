namespace PjSharp.DataAccess;

/// <summary>
/// One place objects live (Asterisk's sorcery wizard): a config file, a memory store, a database.
/// Ids compare ordinally; by-field queries take the option's canonical text (see <see cref="ObjectType.CanonicalizeField"/>).
/// Lists come back ordered by id.
/// </summary>
public interface IObjectBackend : IAsyncDisposable
{
    /// <summary>A name for messages and logs, e.g. <c>pjsip.conf (/etc/pjsharp/pjsip.conf)</c>.</summary>
    string Name { get; }

    /// <summary>True when writes are refused with <see cref="ReadOnlyBackendException"/>.</summary>
    bool IsReadOnly { get; }

    /// <summary>Whether this backend can hold objects of <paramref name="type"/>.</summary>
    bool Supports(ObjectType type);

    /// <summary>The object of <paramref name="type"/> with <paramref name="id"/>, or null.</summary>
    ValueTask<SipObject?> RetrieveAsync(ObjectType type, string id, CancellationToken cancellationToken = default);

    /// <summary>Objects whose option <paramref name="field"/> has the canonical value <paramref name="value"/>.</summary>
    ValueTask<IReadOnlyList<SipObject>> RetrieveByFieldAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default);

    /// <summary>Objects whose id starts with <paramref name="idPrefix"/> (the contacts of an AOR: <c>aor;@</c>).</summary>
    ValueTask<IReadOnlyList<SipObject>> RetrieveByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default);

    /// <summary>Every object of <paramref name="type"/>.</summary>
    ValueTask<IReadOnlyList<SipObject>> RetrieveAllAsync(ObjectType type, CancellationToken cancellationToken = default);

    /// <summary>Stores a new object; throws <see cref="DuplicateObjectException"/> when the id is taken.</summary>
    ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default);

    /// <summary>Replaces an object; throws <see cref="ObjectNotFoundException"/> when there is none with its id.</summary>
    ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces an object; returns true when it was created.</summary>
    ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default);

    /// <summary>Removes an object; returns false when there was none.</summary>
    ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies <paramref name="writes"/> in order and returns what each did: <see cref="ChangeKind.Created"/> or
    /// <see cref="ChangeKind.Updated"/> for an upsert, <see cref="ChangeKind.Deleted"/> or null (nothing to delete) for a delete.
    /// Transactional backends (SQLite, PostgreSQL) apply the batch in one transaction: all or nothing, durable when this
    /// returns, one commit (one fsync) for the whole batch. The default applies the writes one by one and stops at the
    /// first failure, leaving the earlier ones made.
    /// </summary>
    ValueTask<IReadOnlyList<ChangeKind?>> WriteBatchAsync(IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken = default) =>
        ObjectWrites.ApplySequentiallyAsync(this, writes, cancellationToken);

    /// <summary>
    /// Raised for changes this process did not make through this backend: a reloaded file, another node's write.
    /// Handlers run on the backend's thread and must be quick.
    /// </summary>
    event EventHandler<BackendChangedEventArgs>? Changed;
}

/// <summary>What changed in a backend outside of this process's calls.</summary>
public sealed class BackendChangedEventArgs(IReadOnlyList<ObjectChange> changes, IReadOnlyList<ObjectType> reloadedTypes) : EventArgs
{
    /// <summary>Objects created, updated or deleted.</summary>
    public IReadOnlyList<ObjectChange> Changes { get; } = changes;

    /// <summary>Types reloaded as a whole: anything cached of them may be stale.</summary>
    public IReadOnlyList<ObjectType> ReloadedTypes { get; } = reloadedTypes;
}

/// <summary>A write to a backend that only reads.</summary>
public sealed class ReadOnlyBackendException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ReadOnlyBackendException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReadOnlyBackendException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ReadOnlyBackendException(string message, Exception innerException) : base(message, innerException)
    {
    }

    internal static ReadOnlyBackendException For(IObjectBackend backend, string operation, ObjectType type, string id) =>
        new($"{backend.Name} is read-only: cannot {operation} {type.Name} '{id}' there; map the type to a writable backend (SQLite, PostgreSQL, memory) as well");
}

/// <summary>A create for an id that is already taken.</summary>
public sealed class DuplicateObjectException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public DuplicateObjectException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public DuplicateObjectException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public DuplicateObjectException(string message, Exception innerException) : base(message, innerException)
    {
    }

    internal static DuplicateObjectException For(IObjectBackend backend, ObjectType type, string id) =>
        new($"{type.Name} '{id}' already exists in {backend.Name}");
}

/// <summary>An update of an object that does not exist.</summary>
public sealed class ObjectNotFoundException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ObjectNotFoundException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ObjectNotFoundException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ObjectNotFoundException(string message, Exception innerException) : base(message, innerException)
    {
    }

    internal static ObjectNotFoundException For(IObjectBackend backend, ObjectType type, string id) =>
        new($"{type.Name} '{id}' does not exist in {backend.Name}");
}

/// <summary>
/// The backend cannot serve the request now (its server is down or restarting, its disk is full or read-only): nothing
/// was read or written, and the same request may succeed later. Servers answer 503 with Retry-After, never 500.
/// </summary>
public sealed class BackendUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BackendUnavailableException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public BackendUnavailableException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public BackendUnavailableException(string message, Exception innerException) : base(message, innerException)
    {
    }

    internal static BackendUnavailableException For(IObjectBackend backend, Exception cause) =>
        new($"{backend.Name} is unavailable: {cause.Message}", cause);
}

/// <summary>
/// Leases shared by the processes that use one backend, so that work meant to run once (removing expired contacts) runs
/// on one node at a time. A backend only one process uses (SQLite, memory) need not implement it: every lease is granted.
/// </summary>
public interface ILeaseBackend
{
    /// <summary>
    /// Takes or renews the lease <paramref name="name"/> for <paramref name="holder"/> for <paramref name="duration"/>;
    /// false while another holder's lease runs. The backend's own clock decides, so the nodes' clocks need not agree.
    /// </summary>
    ValueTask<bool> TryAcquireLeaseAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken = default);
}
