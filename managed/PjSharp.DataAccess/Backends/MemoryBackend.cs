using System.Collections.Concurrent;

namespace PjSharp.DataAccess;

/// <summary>A writable in-process store: for tests, for state that need not survive a restart, and as a chain's scratch layer.</summary>
public sealed class MemoryBackend : IObjectBackend
{
    private readonly ConcurrentDictionary<ObjectType, ConcurrentDictionary<string, SipObject>> _types = new();

    /// <summary>Creates an empty store.</summary>
    public MemoryBackend(string name = "memory") => Name = name;

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <inheritdoc/>
    public event EventHandler<BackendChangedEventArgs>? Changed
    {
        add { }
        remove { }
    }

    /// <inheritdoc/>
    public bool Supports(ObjectType type) => true;

    private ConcurrentDictionary<string, SipObject> Of(ObjectType type) =>
        _types.GetOrAdd(type, static _ => new ConcurrentDictionary<string, SipObject>(StringComparer.Ordinal));

    /// <inheritdoc/>
    public ValueTask<SipObject?> RetrieveAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Of(type).GetValueOrDefault(id));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveByFieldAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IReadOnlyList<SipObject>>(Sorted(Of(type).Values.Where(o => ObjectType.GetFieldValues(type.ToFields(o), field).Contains(value, StringComparer.Ordinal))));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IReadOnlyList<SipObject>>(Sorted(Of(type).Values.Where(o => o.Id.StartsWith(idPrefix, StringComparison.Ordinal))));
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveAllAsync(ObjectType type, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IReadOnlyList<SipObject>>(Sorted(Of(type).Values));
    }

    /// <inheritdoc/>
    public ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        cancellationToken.ThrowIfCancellationRequested();
        if (!Of(value.ObjectType).TryAdd(value.Id, value))
            throw DuplicateObjectException.For(this, value.ObjectType, value.Id);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        cancellationToken.ThrowIfCancellationRequested();
        var objects = Of(value.ObjectType);
        while (true)
        {
            if (!objects.TryGetValue(value.Id, out var existing))
                throw ObjectNotFoundException.For(this, value.ObjectType, value.Id);
            if (objects.TryUpdate(value.Id, value, existing))
                return ValueTask.CompletedTask;
        }
    }

    /// <inheritdoc/>
    public ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        cancellationToken.ThrowIfCancellationRequested();
        var created = true;
        Of(value.ObjectType).AddOrUpdate(value.Id, value, (_, _) =>
        {
            created = false;
            return value;
        });
        return ValueTask.FromResult(created);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Of(type).TryRemove(id, out _));
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static List<SipObject> Sorted(IEnumerable<SipObject> objects)
    {
        var list = objects.ToList();
        list.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        return list;
    }
}
