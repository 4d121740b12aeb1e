namespace PjSharp.DataAccess.Tests.Support;

/// <summary>
/// Passes everything to another backend, but can hold the next batch write at a gate: the test learns when a batch
/// reached it (<see cref="Held"/>) and lets it through (<see cref="Release"/>).
/// </summary>
internal sealed class GatedBackend(IObjectBackend inner) : IObjectBackend
{
    private TaskCompletionSource<IReadOnlyList<ObjectWrite>>? _held;
    private TaskCompletionSource? _gate;
    private TaskCompletionSource? _release;

    public IObjectBackend Inner => inner;

    /// <summary>Completes with the held batch's writes once a batch waits at the gate.</summary>
    public Task<IReadOnlyList<ObjectWrite>> Held => _held?.Task ?? throw new InvalidOperationException("call HoldNextBatch first");

    /// <summary>The next batch waits at the gate until <see cref="Release"/>.</summary>
    public void HoldNextBatch()
    {
        _held = new TaskCompletionSource<IReadOnlyList<ObjectWrite>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gate = _release;
    }

    public void Release() => _release?.TrySetResult();

    public async ValueTask<IReadOnlyList<ChangeKind?>> WriteBatchAsync(IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken = default)
    {
        var gate = Interlocked.Exchange(ref _gate, null);
        if (gate is not null)
        {
            _held!.TrySetResult(writes.ToList());
            await gate.Task;
        }
        return await inner.WriteBatchAsync(writes, cancellationToken);
    }

    public string Name => "gated " + inner.Name;

    public bool IsReadOnly => inner.IsReadOnly;

    public event EventHandler<BackendChangedEventArgs>? Changed
    {
        add => inner.Changed += value;
        remove => inner.Changed -= value;
    }

    public bool Supports(ObjectType type) => inner.Supports(type);

    public ValueTask<SipObject?> RetrieveAsync(ObjectType type, string id, CancellationToken cancellationToken = default) => inner.RetrieveAsync(type, id, cancellationToken);

    public ValueTask<IReadOnlyList<SipObject>> RetrieveByFieldAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default) =>
        inner.RetrieveByFieldAsync(type, field, value, cancellationToken);

    public ValueTask<IReadOnlyList<SipObject>> RetrieveByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default) =>
        inner.RetrieveByPrefixAsync(type, idPrefix, cancellationToken);

    public ValueTask<IReadOnlyList<SipObject>> RetrieveAllAsync(ObjectType type, CancellationToken cancellationToken = default) => inner.RetrieveAllAsync(type, cancellationToken);

    public ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default) => inner.CreateAsync(value, cancellationToken);

    public ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default) => inner.UpdateAsync(value, cancellationToken);

    public ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default) => inner.UpsertAsync(value, cancellationToken);

    public ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default) => inner.DeleteAsync(type, id, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
