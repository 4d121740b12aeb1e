namespace PjSharp.DataAccess;

/// <summary>
/// An ordered list of backends acting as one: a read walks the list (the first backend holding an id wins), a write
/// goes to the first writable backend. Lists merge all backends, earlier ones shadowing later ones by id.
/// </summary>
public sealed class BackendChain : IObjectBackend
{
    private readonly IObjectBackend[] _backends;

    /// <summary>Creates a chain over <paramref name="backends"/>, in read order.</summary>
    public BackendChain(params IEnumerable<IObjectBackend> backends)
    {
        ArgumentNullException.ThrowIfNull(backends);
        _backends = backends.ToArray();
        if (_backends.Length == 0)
            throw new ArgumentException("a chain needs at least one backend", nameof(backends));
        foreach (var backend in _backends)
            backend.Changed += OnMemberChanged;
    }

    /// <summary>The backends, in read order.</summary>
    public IReadOnlyList<IObjectBackend> Backends => _backends;

    /// <inheritdoc/>
    public string Name => "chain(" + string.Join(", ", _backends.Select(b => b.Name)) + ")";

    /// <inheritdoc/>
    public bool IsReadOnly => _backends.All(b => b.IsReadOnly);

    /// <inheritdoc/>
    public event EventHandler<BackendChangedEventArgs>? Changed;

    private void OnMemberChanged(object? sender, BackendChangedEventArgs e) => Changed?.Invoke(sender, e);

    /// <inheritdoc/>
    public bool Supports(ObjectType type) => _backends.Any(b => b.Supports(type));

    /// <summary>The backend a write of <paramref name="type"/> goes to, or null when none is writable.</summary>
    public IObjectBackend? WriterFor(ObjectType type)
    {
        foreach (var backend in _backends)
        {
            if (!backend.IsReadOnly && backend.Supports(type))
                return backend;
        }
        return null;
    }

    private IObjectBackend Writer(ObjectType type, string operation, string id) =>
        WriterFor(type) ?? throw new ReadOnlyBackendException(
            $"no writable backend for {type.Name}: cannot {operation} {type.Name} '{id}' in {Name}");

    /// <inheritdoc/>
    public ValueTask<SipObject?> RetrieveAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(type);
        for (var i = 0; i < _backends.Length; i++)
        {
            if (!_backends[i].Supports(type))
                continue;
            var pending = _backends[i].RetrieveAsync(type, id, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
                return RetrieveSlowAsync(pending, i, type, id, cancellationToken);
            if (pending.Result is { } found)
                return ValueTask.FromResult<SipObject?>(found);
        }
        return ValueTask.FromResult<SipObject?>(null);
    }

    private async ValueTask<SipObject?> RetrieveSlowAsync(ValueTask<SipObject?> pending, int index, ObjectType type, string id, CancellationToken cancellationToken)
    {
        var found = await pending.ConfigureAwait(false);
        if (found is not null)
            return found;
        for (var i = index + 1; i < _backends.Length; i++)
        {
            if (!_backends[i].Supports(type))
                continue;
            found = await _backends[i].RetrieveAsync(type, id, cancellationToken).ConfigureAwait(false);
            if (found is not null)
                return found;
        }
        return null;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveByFieldAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default) =>
        MergeAsync(type, b => b.RetrieveByFieldAsync(type, field, value, cancellationToken), cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default) =>
        MergeAsync(type, b => b.RetrieveByPrefixAsync(type, idPrefix, cancellationToken), cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveAllAsync(ObjectType type, CancellationToken cancellationToken = default) =>
        MergeAsync(type, b => b.RetrieveAllAsync(type, cancellationToken), cancellationToken);

    private async ValueTask<IReadOnlyList<SipObject>> MergeAsync(
        ObjectType type,
        Func<IObjectBackend, ValueTask<IReadOnlyList<SipObject>>> query,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(type);
        IReadOnlyList<SipObject>? single = null;
        Dictionary<string, SipObject>? byId = null;
        foreach (var backend in _backends)
        {
            if (!backend.Supports(type))
                continue;
            cancellationToken.ThrowIfCancellationRequested();
            var found = await query(backend).ConfigureAwait(false);
            if (single is null)
            {
                single = found;
                continue;
            }
            if (byId is null)
            {
                byId = new Dictionary<string, SipObject>(StringComparer.Ordinal);
                foreach (var item in single)
                    byId[item.Id] = item;
            }
            foreach (var item in found)
            {
                // An id held by an earlier backend shadows later ones, as a retrieve by id would find it first.
                if (!byId.ContainsKey(item.Id) && !await ShadowedAsync(type, item.Id, backend, cancellationToken).ConfigureAwait(false))
                    byId[item.Id] = item;
            }
        }
        if (byId is null)
            return single ?? [];
        var merged = byId.Values.ToList();
        merged.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        return merged;
    }

    private async ValueTask<bool> ShadowedAsync(ObjectType type, string id, IObjectBackend owner, CancellationToken cancellationToken)
    {
        foreach (var backend in _backends)
        {
            if (ReferenceEquals(backend, owner))
                return false;
            if (backend.Supports(type) && await backend.RetrieveAsync(type, id, cancellationToken).ConfigureAwait(false) is not null)
                return true;
        }
        return false;
    }

    /// <inheritdoc/>
    public ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Writer(value.ObjectType, "create", value.Id).CreateAsync(value, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Writer(value.ObjectType, "update", value.Id).UpdateAsync(value, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Writer(value.ObjectType, "write", value.Id).UpsertAsync(value, cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(type);
        return Writer(type, "delete", id).DeleteAsync(type, id, cancellationToken);
    }

    /// <summary>
    /// Sends each write to the first writable backend of its type; consecutive writes for the same backend go as one
    /// batch, so a batch whose types share a backend is applied as that backend's batch (one transaction in SQL).
    /// Every write's backend is found before anything is written: a type with no writable backend fails the whole call.
    /// </summary>
    public async ValueTask<IReadOnlyList<ChangeKind?>> WriteBatchAsync(IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken = default)
    {
        ObjectWrites.Validate(writes);
        var writers = new IObjectBackend[writes.Count];
        for (var i = 0; i < writes.Count; i++)
            writers[i] = Writer(writes[i].Type, writes[i].Kind == ObjectWriteKind.Upsert ? "write" : "delete", writes[i].Id);
        return await WriteRunsAsync(writes, writers, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Applies consecutive writes that share a backend as one batch of that backend.</summary>
    internal static async ValueTask<IReadOnlyList<ChangeKind?>> WriteRunsAsync(IReadOnlyList<ObjectWrite> writes, IObjectBackend[] writers, CancellationToken cancellationToken)
    {
        if (writes.Count == 0)
            return [];
        if (Array.TrueForAll(writers, w => ReferenceEquals(w, writers[0])))
            return await writers[0].WriteBatchAsync(writes, cancellationToken).ConfigureAwait(false);
        var results = new ChangeKind?[writes.Count];
        var start = 0;
        while (start < writes.Count)
        {
            var end = start + 1;
            while (end < writes.Count && ReferenceEquals(writers[end], writers[start]))
                end++;
            var run = new ObjectWrite[end - start];
            for (var i = start; i < end; i++)
                run[i - start] = writes[i];
            var done = await writers[start].WriteBatchAsync(run, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < done.Count; i++)
                results[start + i] = done[i];
            start = end;
        }
        return results;
    }

    /// <summary>Stops listening to the members; the members themselves belong to whoever made them.</summary>
    public ValueTask DisposeAsync()
    {
        foreach (var backend in _backends)
            backend.Changed -= OnMemberChanged;
        return ValueTask.CompletedTask;
    }
}
