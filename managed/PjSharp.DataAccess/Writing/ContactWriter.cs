using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.DataAccess.Internal;

namespace PjSharp.DataAccess;

/// <summary>Settings of a <see cref="ContactWriter"/>.</summary>
public sealed class ContactWriterOptions
{
    /// <summary>
    /// Writes per commit, at most; a request's writes are never split, so a batch may exceed this by one request.
    /// </summary>
    public int MaxBatchSize { get; set; } = 512;

    /// <summary>
    /// Requests that may wait for a commit; beyond that <see cref="ContactWriter.WriteAsync"/> waits (asynchronously)
    /// for room, so a slow disk slows the callers instead of growing memory.
    /// </summary>
    public int MaxQueuedRequests { get; set; } = 8192;

    /// <summary>Logs of the writer.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}

/// <summary>
/// Group commit for registrar bindings: many callers (servants, one per AOR) hand in contact changes at once, and one
/// writer applies whatever has queued while the previous commit ran as a single batch
/// (<see cref="ObjectStore.WriteBatchAsync"/>: one transaction, one sync to disk for SQLite and PostgreSQL). Each
/// caller's task completes only once its batch is committed, so a 200 OK sent after awaiting it promises a durable
/// binding. If the commit fails, every task of that batch fails with the error (answer 500 or 503); later batches are
/// tried afresh. All writes of one call are in the same batch, so they are committed together or not at all.
/// </summary>
/// <remarks>
/// Thread-safe; callers may be on any thread. Tasks complete asynchronously (never inline on the writer loop).
/// Observers of the store hear of the changes on the writer loop, after the commit and before the tasks complete.
/// </remarks>
public sealed class ContactWriter : IAsyncDisposable
{
    private readonly ObjectStore _store;
    private readonly int _maxBatchSize;
    private readonly Channel<Request> _queue;
    private readonly ILogger _logger;
    private readonly Task _loop;
    private long _batches;
    private long _writes;
    private long _failedBatches;
    private int _largestBatch;

    /// <summary>Starts a writer over <paramref name="store"/> (which stays the caller's to dispose).</summary>
    public ContactWriter(ObjectStore store, ContactWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new ContactWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxQueuedRequests, 1);
        _store = store;
        _maxBatchSize = options.MaxBatchSize;
        _logger = options.LoggerFactory?.CreateLogger<ContactWriter>() ?? (ILogger)NullLogger.Instance;
        _queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(options.MaxQueuedRequests)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>Batches committed so far.</summary>
    public long BatchesCommitted => Interlocked.Read(ref _batches);

    /// <summary>Writes committed so far.</summary>
    public long WritesCommitted => Interlocked.Read(ref _writes);

    /// <summary>Batches whose commit failed.</summary>
    public long BatchesFailed => Interlocked.Read(ref _failedBatches);

    /// <summary>The most writes committed in one batch.</summary>
    public int LargestBatch => Volatile.Read(ref _largestBatch);

    /// <summary>Creates or replaces <paramref name="contact"/>; completes when it is committed.</summary>
    public Task UpsertAsync(Contact contact, CancellationToken cancellationToken = default) =>
        WriteAsync([ObjectWrite.Upsert(contact)], cancellationToken);

    /// <summary>Removes <paramref name="contact"/>; completes when the removal is committed.</summary>
    public Task DeleteAsync(Contact contact, CancellationToken cancellationToken = default) =>
        WriteAsync([ObjectWrite.Delete(contact)], cancellationToken);

    /// <summary>
    /// Queues <paramref name="writes"/> (applied in order, all in one batch) and completes when their batch is
    /// committed, or fails with the commit's error. <paramref name="cancellationToken"/> cancels only the wait for room
    /// in the queue: once queued, the writes are made. Throws <see cref="ReadOnlyBackendException"/> (or
    /// <see cref="InvalidOperationException"/> for an unmapped type) at once for writes the store cannot make, and
    /// <see cref="ObjectDisposedException"/> after disposal.
    /// </summary>
    public Task WriteAsync(IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken = default)
    {
        ObjectWrites.Validate(writes);
        if (writes.Count == 0)
            return Task.CompletedTask;
        // A write the store can never make fails here, alone, rather than failing the batch it would join.
        foreach (var write in writes)
        {
            if (_store.GetChain(write.Type).WriterFor(write.Type) is null)
                throw new ReadOnlyBackendException($"no writable backend for {write.Type.Name}: cannot write {write.Type.Name} '{write.Id}'");
        }
        // A copy: the caller may reuse its list once this returns.
        var request = new Request([.. writes]);
        if (_queue.Writer.TryWrite(request))
            return request.Task;
        return QueueSlowAsync(request, cancellationToken);
    }

    private async Task QueueSlowAsync(Request request, CancellationToken cancellationToken)
    {
        try
        {
            await _queue.Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(ContactWriter));
        }
        await request.Task.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var batch = new List<Request>();
        var writes = new List<ObjectWrite>();
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Everything that queued while the previous commit ran, up to the batch size.
            while (writes.Count < _maxBatchSize && reader.TryRead(out var request))
            {
                batch.Add(request);
                writes.AddRange(request.Writes);
            }
            try
            {
                await _store.WriteBatchAsync(writes, CancellationToken.None).ConfigureAwait(false);
                Interlocked.Increment(ref _batches);
                Interlocked.Add(ref _writes, writes.Count);
                if (writes.Count > _largestBatch)
                    Volatile.Write(ref _largestBatch, writes.Count);
                foreach (var done in batch)
                    done.TrySetResult();
            }
            catch (Exception error)
            {
                Interlocked.Increment(ref _failedBatches);
                if (error is BackendUnavailableException)
                    Log.WriteBatchUnavailable(_logger, writes.Count, batch.Count); // the backend logged the outage
                else
                    Log.WriteBatchFailed(_logger, error, writes.Count, batch.Count);
                foreach (var failed in batch)
                    failed.TrySetException(error);
            }
            batch.Clear();
            writes.Clear();
        }
    }

    /// <summary>Stops taking writes, commits what is queued, and waits for the last commit.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    /// <summary>One caller's writes and the task it awaits; continuations never run on the writer loop.</summary>
    private sealed class Request(IReadOnlyList<ObjectWrite> writes) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public IReadOnlyList<ObjectWrite> Writes { get; } = writes;
    }
}
