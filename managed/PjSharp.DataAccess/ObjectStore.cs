using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.DataAccess.Internal;

namespace PjSharp.DataAccess;

/// <summary>
/// The data access layer's front door (Asterisk's sorcery instance): each object type is mapped to an ordered chain of
/// backends and an optional memory cache; observers hear of every change. Build one with <see cref="ObjectStoreBuilder"/>.
/// Thread-safe. Disposing the store disposes the backends it was given.
/// </summary>
public sealed class ObjectStore : IAsyncDisposable
{
    private readonly Dictionary<ObjectType, Mapping> _mappings;
    private readonly IReadOnlyList<IObjectBackend> _backends;
    private readonly ILogger _logger;
    private int _disposed;

    internal ObjectStore(Dictionary<ObjectType, Mapping> mappings, IReadOnlyList<IObjectBackend> backends, ILogger? logger)
    {
        _mappings = mappings;
        _backends = backends;
        _logger = logger ?? NullLogger.Instance;
        foreach (var mapping in _mappings.Values)
        {
            if (mapping.Cache is { } cache)
                mapping.Observers.Add(cache);
        }
        foreach (var backend in _backends)
            backend.Changed += OnBackendChanged;
    }

    /// <summary>The types that have a mapping.</summary>
    public IEnumerable<ObjectType> MappedTypes => _mappings.Keys;

    /// <summary>Every backend the store was given, in the order they were added.</summary>
    public IReadOnlyList<IObjectBackend> Backends => _backends;

    /// <summary>The chain of backends for <paramref name="type"/>.</summary>
    public BackendChain GetChain(ObjectType type) => MappingOf(type).Chain;

    /// <summary>The cache of <paramref name="type"/>, or null when it is not cached.</summary>
    public MemoryCache? GetCache(ObjectType type) => MappingOf(type).Cache;

    private Mapping MappingOf(ObjectType type)
    {
        ArgumentNullException.ThrowIfNull(type);
        return _mappings.TryGetValue(type, out var mapping)
            ? mapping
            : throw new InvalidOperationException($"no backend is mapped for object type '{type.Name}'");
    }

    /// <summary>The <typeparamref name="T"/> with <paramref name="id"/>, or null. A cache hit completes synchronously without allocating.</summary>
    public ValueTask<T?> GetAsync<T>(string id, CancellationToken cancellationToken = default) where T : SipObject, ISipObject<T>
    {
        var mapping = MappingOf(T.Type);
        if (mapping.Cache is { } cache && cache.TryGet(id, out var cached))
            return ValueTask.FromResult((T?)cached);
        return LoadAsync<T>(mapping, id, cancellationToken);
    }

    private static async ValueTask<T?> LoadAsync<T>(Mapping mapping, string id, CancellationToken cancellationToken) where T : SipObject =>
        (T?)await LoadAsync(mapping, id, cancellationToken).ConfigureAwait(false);

    /// <summary>The object of <paramref name="type"/> with <paramref name="id"/>, or null.</summary>
    public ValueTask<SipObject?> GetAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        var mapping = MappingOf(type);
        if (mapping.Cache is { } cache && cache.TryGet(id, out var cached))
            return ValueTask.FromResult(cached);
        return LoadAsync(mapping, id, cancellationToken);
    }

    private static async ValueTask<SipObject?> LoadAsync(Mapping mapping, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(id);
        var generation = mapping.Cache?.Generation ?? 0;
        var found = await mapping.Chain.RetrieveAsync(mapping.Type, id, cancellationToken).ConfigureAwait(false);
        if (found is not null)
            mapping.Cache?.Set(found, generation);
        return found;
    }

    /// <summary>Objects whose option <paramref name="field"/> equals <paramref name="value"/> (compared in canonical form: <c>true</c> finds <c>yes</c>).</summary>
    public async ValueTask<IReadOnlyList<T>> FindAsync<T>(string field, string value, CancellationToken cancellationToken = default) where T : SipObject, ISipObject<T> =>
        Cast<T>(await FindAsync(T.Type, field, value, cancellationToken).ConfigureAwait(false));

    /// <summary>Objects of <paramref name="type"/> whose option <paramref name="field"/> equals <paramref name="value"/>.</summary>
    public ValueTask<IReadOnlyList<SipObject>> FindAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default)
    {
        var mapping = MappingOf(type);
        var (canonicalField, canonicalValue) = type.CanonicalizeField(field, value);
        return mapping.Chain.RetrieveByFieldAsync(type, canonicalField, canonicalValue, cancellationToken);
    }

    /// <summary>Objects whose id starts with <paramref name="idPrefix"/>.</summary>
    public async ValueTask<IReadOnlyList<T>> FindByPrefixAsync<T>(string idPrefix, CancellationToken cancellationToken = default) where T : SipObject, ISipObject<T> =>
        Cast<T>(await FindByPrefixAsync(T.Type, idPrefix, cancellationToken).ConfigureAwait(false));

    /// <summary>Objects of <paramref name="type"/> whose id starts with <paramref name="idPrefix"/>.</summary>
    public ValueTask<IReadOnlyList<SipObject>> FindByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(idPrefix);
        return MappingOf(type).Chain.RetrieveByPrefixAsync(type, idPrefix, cancellationToken);
    }

    /// <summary>Every <typeparamref name="T"/>.</summary>
    public async ValueTask<IReadOnlyList<T>> GetAllAsync<T>(CancellationToken cancellationToken = default) where T : SipObject, ISipObject<T> =>
        Cast<T>(await GetAllAsync(T.Type, cancellationToken).ConfigureAwait(false));

    /// <summary>Every object of <paramref name="type"/>.</summary>
    public ValueTask<IReadOnlyList<SipObject>> GetAllAsync(ObjectType type, CancellationToken cancellationToken = default) =>
        MappingOf(type).Chain.RetrieveAllAsync(type, cancellationToken);

    /// <summary>Stores a new object in the first writable backend of its type.</summary>
    public async ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var mapping = MappingOf(value.ObjectType);
        await mapping.Chain.CreateAsync(value, cancellationToken).ConfigureAwait(false);
        Notify(mapping, new ObjectChange(mapping.Type, value.Id, ChangeKind.Created, value, ChangeOrigin.Local));
    }

    /// <summary>Replaces an object in the first writable backend of its type.</summary>
    public async ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var mapping = MappingOf(value.ObjectType);
        await mapping.Chain.UpdateAsync(value, cancellationToken).ConfigureAwait(false);
        Notify(mapping, new ObjectChange(mapping.Type, value.Id, ChangeKind.Updated, value, ChangeOrigin.Local));
    }

    /// <summary>Creates or replaces an object; returns true when it was created. Durable when the backend says so (SQLite, PostgreSQL) once this returns.</summary>
    public async ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var mapping = MappingOf(value.ObjectType);
        var created = await mapping.Chain.UpsertAsync(value, cancellationToken).ConfigureAwait(false);
        Notify(mapping, new ObjectChange(mapping.Type, value.Id, created ? ChangeKind.Created : ChangeKind.Updated, value, ChangeOrigin.Local));
        return created;
    }

    /// <summary>Deletes a <typeparamref name="T"/>; returns false when there was none.</summary>
    public ValueTask<bool> DeleteAsync<T>(string id, CancellationToken cancellationToken = default) where T : SipObject, ISipObject<T> =>
        DeleteAsync(T.Type, id, cancellationToken);

    /// <summary>Deletes an object from the first writable backend of its type; returns false when there was none.</summary>
    public async ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        var mapping = MappingOf(type);
        var previous = await mapping.Chain.RetrieveAsync(type, id, cancellationToken).ConfigureAwait(false);
        var deleted = await mapping.Chain.DeleteAsync(type, id, cancellationToken).ConfigureAwait(false);
        if (deleted)
            Notify(mapping, new ObjectChange(type, id, ChangeKind.Deleted, previous, ChangeOrigin.Local));
        return deleted;
    }

    /// <summary>
    /// Applies <paramref name="writes"/> in order, each in the first writable backend of its type, then tells observers
    /// (a delete's observers receive <see cref="ObjectWrite.Value"/>, which may be null). Writes that go to the same
    /// backend in a row form one batch of that backend: one transaction for SQLite and PostgreSQL, so they are made
    /// all or none and are durable when this returns. Returns what each write did (see <see cref="IObjectBackend.WriteBatchAsync"/>).
    /// </summary>
    public async ValueTask<IReadOnlyList<ChangeKind?>> WriteBatchAsync(IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken = default)
    {
        ObjectWrites.Validate(writes);
        var mappings = new Mapping[writes.Count];
        var writers = new IObjectBackend[writes.Count];
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            mappings[i] = MappingOf(write.Type);
            writers[i] = mappings[i].Chain.WriterFor(write.Type) ?? throw new ReadOnlyBackendException(
                $"no writable backend for {write.Type.Name}: cannot {(write.Kind == ObjectWriteKind.Upsert ? "write" : "delete")} {write.Type.Name} '{write.Id}' in {mappings[i].Chain.Name}");
        }
        var results = await BackendChain.WriteRunsAsync(writes, writers, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < writes.Count; i++)
        {
            if (results[i] is { } kind)
                Notify(mappings[i], new ObjectChange(writes[i].Type, writes[i].Id, kind, writes[i].Value, ChangeOrigin.Local));
        }
        return results;
    }

    /// <summary>
    /// Takes or renews the lease <paramref name="name"/> in the backend that writes <paramref name="type"/>, for work that
    /// must run on one node at a time; always granted when that backend is not shared (<see cref="ILeaseBackend"/>).
    /// </summary>
    public ValueTask<bool> TryAcquireLeaseAsync(ObjectType type, string name, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        return MappingOf(type).Chain.WriterFor(type) is ILeaseBackend shared
            ? shared.TryAcquireLeaseAsync(name, holder, duration, cancellationToken)
            : ValueTask.FromResult(true);
    }

    /// <summary>Adds an observer of <typeparamref name="T"/>; dispose the result to remove it.</summary>
    public IDisposable AddObserver<T>(IObjectObserver observer) where T : SipObject, ISipObject<T> => AddObserver(T.Type, observer);

    /// <summary>Adds an observer of <paramref name="type"/>; dispose the result to remove it.</summary>
    public IDisposable AddObserver(ObjectType type, IObjectObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var mapping = MappingOf(type);
        mapping.Observers.Add(observer);
        return new Subscription(mapping, observer);
    }

    /// <summary>Reloads every backend that can (config files, configuration); each reports its own outcome.</summary>
    public async Task<IReadOnlyList<ReloadResult>> ReloadAsync(CancellationToken cancellationToken = default)
    {
        var results = new List<ReloadResult>();
        foreach (var backend in _backends.OfType<IReloadableBackend>())
            results.Add(await backend.ReloadAsync(cancellationToken).ConfigureAwait(false));
        return results;
    }

    private void OnBackendChanged(object? sender, BackendChangedEventArgs e)
    {
        foreach (var change in e.Changes)
        {
            if (_mappings.TryGetValue(change.Type, out var mapping) && Serves(mapping, sender))
                Notify(mapping, change);
        }
        foreach (var type in e.ReloadedTypes)
        {
            if (!_mappings.TryGetValue(type, out var mapping) || !Serves(mapping, sender))
                continue;
            foreach (var observer in mapping.Observers.Snapshot)
            {
                try
                {
                    observer.Reloaded(type);
                }
                catch (Exception error) when (error is not OutOfMemoryException)
                {
                    Log.ObserverReloadFailed(_logger, error, observer.GetType().Name, type.Name);
                }
            }
        }
    }

    private static bool Serves(Mapping mapping, object? sender) =>
        sender is not IObjectBackend backend || mapping.Chain.Backends.Contains(backend);

    private void Notify(Mapping mapping, ObjectChange change)
    {
        foreach (var observer in mapping.Observers.Snapshot)
        {
            try
            {
                switch (change.Kind)
                {
                    case ChangeKind.Created:
                        observer.Created(change);
                        break;
                    case ChangeKind.Updated:
                        observer.Updated(change);
                        break;
                    default:
                        observer.Deleted(change);
                        break;
                }
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                Log.ObserverFailed(_logger, error, observer.GetType().Name, change.Kind.ToString(), change.Type.Name, change.Id);
            }
        }
    }

    private static List<T> Cast<T>(IReadOnlyList<SipObject> objects) where T : SipObject
    {
        var list = new List<T>(objects.Count);
        foreach (var item in objects)
            list.Add((T)item);
        return list;
    }

    /// <summary>Disposes the backends the store was given.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        foreach (var backend in _backends)
            backend.Changed -= OnBackendChanged;
        foreach (var mapping in _mappings.Values)
            await mapping.Chain.DisposeAsync().ConfigureAwait(false);
        foreach (var backend in _backends)
            await backend.DisposeAsync().ConfigureAwait(false);
    }

    internal sealed class Mapping(ObjectType type, BackendChain chain, MemoryCache? cache)
    {
        public ObjectType Type { get; } = type;

        public BackendChain Chain { get; } = chain;

        public MemoryCache? Cache { get; } = cache;

        public ObserverList Observers { get; } = new();
    }

    /// <summary>Copy-on-write, so notifying never locks and observers may unsubscribe from a callback.</summary>
    internal sealed class ObserverList
    {
        private readonly Lock _gate = new();

        public IObjectObserver[] Snapshot { get; private set; } = [];

        public void Add(IObjectObserver observer)
        {
            lock (_gate)
                Snapshot = [.. Snapshot, observer];
        }

        public void Remove(IObjectObserver observer)
        {
            lock (_gate)
                Snapshot = Snapshot.Where(o => !ReferenceEquals(o, observer)).ToArray();
        }
    }

    private sealed class Subscription(Mapping mapping, IObjectObserver observer) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
                mapping.Observers.Remove(observer);
        }
    }
}

/// <summary>A backend whose source can be read again (a config file, an <c>IConfiguration</c>).</summary>
public interface IReloadableBackend
{
    /// <summary>Reads the source again and applies only what changed; on errors the previous objects stay in force.</summary>
    Task<ReloadResult> ReloadAsync(CancellationToken cancellationToken = default);
}

/// <summary>The outcome of one reload.</summary>
/// <param name="Source">The backend's name.</param>
/// <param name="Applied">False when errors kept the previous objects in force.</param>
/// <param name="Diagnostics">Errors and warnings of the new source.</param>
/// <param name="Changes">What changed (empty when not applied).</param>
public sealed record ReloadResult(string Source, bool Applied, IReadOnlyList<ConfigDiagnostic> Diagnostics, IReadOnlyList<ObjectChange> Changes);
