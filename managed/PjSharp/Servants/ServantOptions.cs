namespace PjSharp.Servants;

/// <summary>Settings of a <see cref="ServantDispatcher{TKey}"/>.</summary>
public sealed class ServantOptions
{
    /// <summary>The dispatcher's name: the <c>pjsharp.servant.name</c> tag of its metrics and the prefix of its logs.</summary>
    public string Name { get; set; } = "servants";

    /// <summary>
    /// Items one key may hold (waiting or running) before <see cref="ServantDispatcher{TKey}.TryEnqueue"/> refuses more
    /// for it. One busy dialog or AOR cannot take the whole queue.
    /// </summary>
    public int MaxQueuedPerKey { get; set; } = 64;

    /// <summary>
    /// Items all keys together may hold (waiting or running): the high-water mark past which
    /// <see cref="ServantDispatcher{TKey}.TryEnqueue"/> refuses work and the caller answers 503 with Retry-After.
    /// </summary>
    public int MaxQueued { get; set; } = 10_000;

    /// <summary>How long <see cref="ServantDispatcher{TKey}.DisposeAsync"/> waits for accepted work before cancelling it.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Items of one key run back to back on a thread before the key yields its thread to others (items that complete
    /// synchronously only; an item that awaits always gives the thread back).
    /// </summary>
    public int MaxItemsPerTurn { get; set; } = 16;
}

/// <summary>Why <see cref="ServantDispatcher{TKey}.TryEnqueue"/> refused an item (the <c>reason</c> tag of <c>pjsharp.servant.rejected</c>).</summary>
public enum ServantRejection
{
    /// <summary>The key already holds <see cref="ServantOptions.MaxQueuedPerKey"/> items.</summary>
    KeyFull,
    /// <summary>All keys together hold <see cref="ServantOptions.MaxQueued"/> items.</summary>
    Full,
    /// <summary>The dispatcher is draining or disposed.</summary>
    Stopped,
}
