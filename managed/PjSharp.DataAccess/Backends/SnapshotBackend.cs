namespace PjSharp.DataAccess;

/// <summary>A read-only backend over objects loaded from a configuration source, swapped whole on reload.</summary>
public abstract class SnapshotBackend : IObjectBackend
{
    private volatile ObjectSnapshot _snapshot = ObjectSnapshot.Empty;

    /// <summary>Creates the backend with no objects.</summary>
    protected SnapshotBackend(string name) => Name = name;

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool IsReadOnly => true;

    /// <summary>Number of objects loaded.</summary>
    public int Count => _snapshot.Count;

    /// <inheritdoc/>
    public event EventHandler<BackendChangedEventArgs>? Changed;

    /// <inheritdoc/>
    public virtual bool Supports(ObjectType type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return !type.IsDynamic;
    }

    /// <summary>Installs the first load.</summary>
    private protected void Initialize(IEnumerable<SipObject> objects) => _snapshot = new ObjectSnapshot(objects);

    /// <summary>Installs a reload: only what changed is replaced, and observers hear about exactly that.</summary>
    private protected IReadOnlyList<ObjectChange> Replace(IEnumerable<SipObject> objects)
    {
        var next = new ObjectSnapshot(objects);
        var changes = new List<ObjectChange>();
        var previous = _snapshot;
        _snapshot = previous.Merge(next, changes);
        var types = previous.Types.Union(next.Types).ToList();
        Changed?.Invoke(this, new BackendChangedEventArgs(changes, types));
        return changes;
    }

    /// <inheritdoc/>
    public ValueTask<SipObject?> RetrieveAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_snapshot.Get(type, id));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveByFieldAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_snapshot.ByField(type, field, value));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_snapshot.ByPrefix(type, idPrefix));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveAllAsync(ObjectType type, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_snapshot.All(type));
    }

    /// <inheritdoc/>
    public ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        throw ReadOnlyBackendException.For(this, "create", value.ObjectType, value.Id);
    }

    /// <inheritdoc/>
    public ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        throw ReadOnlyBackendException.For(this, "update", value.ObjectType, value.Id);
    }

    /// <inheritdoc/>
    public ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        throw ReadOnlyBackendException.For(this, "write", value.ObjectType, value.Id);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(type);
        throw ReadOnlyBackendException.For(this, "delete", type, id);
    }

    /// <inheritdoc/>
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
