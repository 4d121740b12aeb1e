namespace PjSharp.Servants;

/// <summary>
/// One work item for a <see cref="ServantDispatcher{TKey}"/>. Derive from it for hot paths: a work object can carry
/// its own state (no closure) and be pooled and queued again.
/// </summary>
/// <remarks>
/// A work object may sit in one queue at a time: <see cref="ServantDispatcher{TKey}.TryEnqueue"/> throws
/// <see cref="InvalidOperationException"/> while it is queued. Once <see cref="RunAsync"/> has been called the
/// dispatcher no longer needs the object: it may be queued again (even from inside <see cref="RunAsync"/>) or returned
/// to a pool when <see cref="RunAsync"/> completes.
/// </remarks>
public abstract class ServantWork
{
    // Intrusive queue link and enqueue time: queueing allocates nothing.
    internal ServantWork? Next;
    internal long EnqueuedAt;
    internal int Queued;

    /// <summary>
    /// Does the work, on a thread-pool thread, after every earlier item of the same key has completed. The token is
    /// cancelled when the dispatcher's shutdown gives up waiting (<see cref="ServantDispatcher{TKey}.DrainAsync"/>).
    /// An exception is logged and counted; the key's next item runs regardless.
    /// </summary>
    public abstract ValueTask RunAsync(CancellationToken cancellationToken);
}

/// <summary>Wraps a delegate; one allocation per item, for code that is not on a hot path.</summary>
internal sealed class DelegateServantWork(Func<CancellationToken, ValueTask> work) : ServantWork
{
    public override ValueTask RunAsync(CancellationToken cancellationToken) => work(cancellationToken);
}
