using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Numerics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.Diagnostics;

namespace PjSharp.Servants;

/// <summary>
/// Per-key serializers on the .NET thread pool (Asterisk's res_pjsip serializers): the mechanism services use to leave
/// the pjsip worker thread and do slow work per dialog (key: Call-ID) or per AOR (key: AOR id).
/// </summary>
/// <remarks>
/// <para><b>Threading rules.</b></para>
/// <list type="bullet">
/// <item><see cref="TryEnqueue(TKey, ServantWork)"/> may be called from any thread, pjsip workers included: it never
/// blocks beyond a short lock on one of several stripes, never runs the work inline, and allocates nothing for a
/// <see cref="ServantWork"/> (only the first item of an idle key may take a key entry from the pool's free list).</item>
/// <item>Items of one key run one at a time, in the order <see cref="TryEnqueue(TKey, ServantWork)"/> accepted them:
/// an item starts only after the previous item's <see cref="ValueTask"/> has completed, awaits included. State that
/// only a key's items touch (a dialog, an AOR's bindings) therefore needs no lock, and writes made by one item are
/// visible to the next.</item>
/// <item>Items of different keys run in parallel, as far as the thread pool allows.</item>
/// <item>Items always start on thread-pool threads: never on the enqueuing thread, and never on a thread that completed
/// something the previous item awaited (a pjsip worker completing a task never ends up starting the next item). What
/// runs after an item's own <c>await</c> follows the awaited object's rules: complete a
/// <see cref="TaskCompletionSource"/> made with <see cref="TaskCreationOptions.RunContinuationsAsynchronously"/> from
/// a pjsip thread. Which pool thread is not fixed, so keep no thread-affine state; pjsip calls register the thread
/// lazily.</item>
/// <item>The caller's <see cref="ExecutionContext"/> (<c>AsyncLocal</c> values, the current <c>Activity</c>) does not
/// flow into items: pass what an item needs in the work object.</item>
/// <item>Await, do not block: a blocked item holds its key and a pool thread. Never wait synchronously, inside an item,
/// for a later item of the same key: it cannot start before the waiting one ends.</item>
/// <item>Bounded: a key holds at most <see cref="ServantOptions.MaxQueuedPerKey"/> items and all keys together at most
/// <see cref="ServantOptions.MaxQueued"/> (waiting or running). Past either, <see cref="TryEnqueue(TKey, ServantWork)"/>
/// returns false at once and counts a rejection; the caller answers 503 with Retry-After.</item>
/// <item>An item that throws is logged and counted; the key's next item runs as usual.</item>
/// <item>A key's state is removed as soon as its last item completes, so many short-lived keys do not accumulate.</item>
/// </list>
/// <para>Metrics (meter <c>PjSharp</c>, tag <c>pjsharp.servant.name</c>): <c>pjsharp.servant.queue.depth</c> and
/// <c>pjsharp.servant.keys</c> (observable gauges), <c>pjsharp.servant.wait</c> (histogram, ms from enqueue to start),
/// <c>pjsharp.servant.rejected</c> (counter, tag <c>reason</c>: <c>key_full</c>, <c>full</c>, <c>stopped</c>) and
/// <c>pjsharp.servant.failed</c> (counter).</para>
/// </remarks>
/// <typeparam name="TKey">What serializes work: a Call-ID, an AOR id.</typeparam>
public sealed class ServantDispatcher<TKey> : IAsyncDisposable where TKey : notnull, IEquatable<TKey>
{
    private const int FreeKeysPerStripe = 32;

    private readonly string _name;
    private readonly int _maxPerKey;
    private readonly int _maxQueued;
    private readonly int _maxPerTurn;
    private readonly TimeSpan _shutdownTimeout;
    private readonly IEqualityComparer<TKey> _comparer;
    private readonly Stripe[] _stripes;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Meter? _ownedMeter;
    private readonly Histogram<double> _waitHistogram;
    private readonly Counter<long> _rejectedCounter;
    private readonly Counter<long> _failedCounter;
    private readonly KeyValuePair<string, object?> _nameTag;
    private int _depth;
    private int _activeKeys;
    private int _stopping;
    private long _rejected;
    private long _failed;
    private long _started;
    private long _completed;
    private long _waitTicks;
    private long _maxWaitTicks;

    private static readonly KeyValuePair<string, object?> KeyFullTag = new("reason", "key_full");
    private static readonly KeyValuePair<string, object?> FullTag = new("reason", "full");
    private static readonly KeyValuePair<string, object?> StoppedTag = new("reason", "stopped");

    /// <param name="options">Limits and name; defaults when null.</param>
    /// <param name="meterFactory">Where the <c>PjSharp</c> meter comes from (the host's); without one the dispatcher makes and owns its meter.</param>
    /// <param name="logger">Where failed items are logged.</param>
    /// <param name="comparer">How keys compare; <see cref="EqualityComparer{T}.Default"/> when null.</param>
    public ServantDispatcher(ServantOptions? options = null, IMeterFactory? meterFactory = null, ILogger? logger = null, IEqualityComparer<TKey>? comparer = null)
    {
        options ??= new ServantOptions();
        ArgumentException.ThrowIfNullOrEmpty(options.Name);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxQueuedPerKey, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxQueued, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxItemsPerTurn, 1);
        _name = options.Name;
        _maxPerKey = options.MaxQueuedPerKey;
        _maxQueued = options.MaxQueued;
        _maxPerTurn = options.MaxItemsPerTurn;
        _shutdownTimeout = options.ShutdownTimeout;
        _comparer = comparer ?? EqualityComparer<TKey>.Default;
        _logger = logger ?? NullLogger.Instance;
        _stripes = new Stripe[(int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount * 4, 8, 256))];
        for (var i = 0; i < _stripes.Length; i++)
            _stripes[i] = new Stripe(_comparer);

        _nameTag = new("pjsharp.servant.name", _name);
        var meter = PjSharpMetrics.Create(meterFactory, out _ownedMeter);
        // The gauges hold the dispatcher weakly: a factory's meter outlives the dispatchers reporting through it.
        var self = new WeakReference<ServantDispatcher<TKey>>(this);
        meter.CreateObservableGauge("pjsharp.servant.queue.depth", () => Observe(self, d => d.QueueDepth), "{item}",
            "Work items accepted and not yet finished (waiting or running)");
        meter.CreateObservableGauge("pjsharp.servant.keys", () => Observe(self, d => d.ActiveKeys), "{key}",
            "Keys with work waiting or running");
        _waitHistogram = meter.CreateHistogram("pjsharp.servant.wait", "ms", "Time from enqueue to the start of a work item", tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] });
        _rejectedCounter = meter.CreateCounter<long>("pjsharp.servant.rejected", "{item}", "Work items refused because a limit was reached or the dispatcher stopped");
        _failedCounter = meter.CreateCounter<long>("pjsharp.servant.failed", "{item}", "Work items that threw");
    }

    private static Measurement<int>[] Observe(WeakReference<ServantDispatcher<TKey>> self, Func<ServantDispatcher<TKey>, int> value) =>
        self.TryGetTarget(out var dispatcher) && Volatile.Read(ref dispatcher._stopping) == 0 ? [new(value(dispatcher), dispatcher._nameTag)] : [];

    /// <summary>The name given in <see cref="ServantOptions.Name"/>.</summary>
    public string Name => _name;

    /// <summary>Items accepted and not yet finished, waiting or running, over all keys.</summary>
    public int QueueDepth => Volatile.Read(ref _depth);

    /// <summary>Keys that have work waiting or running (state of idle keys is dropped).</summary>
    public int ActiveKeys => Volatile.Read(ref _activeKeys);

    /// <summary>Items refused by <see cref="TryEnqueue(TKey, ServantWork)"/>.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Items that threw.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Items started.</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Items finished (successfully or not).</summary>
    public long Completed => Interlocked.Read(ref _completed);

    /// <summary>The longest time an item waited between enqueue and start.</summary>
    public TimeSpan MaxWaitTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _maxWaitTicks));

    /// <summary>The mean time items waited between enqueue and start.</summary>
    public TimeSpan AverageWaitTime
    {
        get
        {
            var started = Started;
            return started == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _waitTicks) / started);
        }
    }

    /// <summary>True once <see cref="DrainAsync"/> or <see cref="DisposeAsync"/> has begun: nothing more is accepted.</summary>
    public bool IsStopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>Items <paramref name="key"/> holds, waiting or running (0 for an idle key).</summary>
    public int GetQueueDepth(TKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var stripe = StripeOf(key);
        lock (stripe.Gate)
            return stripe.Queues.TryGetValue(key, out var queue) ? queue.Count : 0;
    }

    /// <summary>Queues a delegate; allocates a wrapper, so prefer <see cref="TryEnqueue(TKey, ServantWork)"/> on hot paths.</summary>
    public bool TryEnqueue(TKey key, Func<CancellationToken, ValueTask> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return TryEnqueue(key, new DelegateServantWork(work));
    }

    /// <summary>
    /// Queues <paramref name="work"/> behind the work already queued for <paramref name="key"/>. Returns false at once,
    /// without queueing, when the key or the dispatcher is full or the dispatcher is stopping (answer 503).
    /// </summary>
    /// <exception cref="InvalidOperationException">The work object is already queued.</exception>
    public bool TryEnqueue(TKey key, ServantWork work)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        if (Interlocked.Exchange(ref work.Queued, 1) != 0)
            throw new InvalidOperationException("This work item is already queued; a work object may be queued again only once it has started.");
        if (Volatile.Read(ref _stopping) != 0)
            return Reject(work, StoppedTag);
        if (Interlocked.Increment(ref _depth) > _maxQueued)
        {
            Release();
            return Reject(work, FullTag);
        }
        // Read after the increment: DrainAsync sets the flag and then reads the depth, so one of the two sees the other.
        if (Volatile.Read(ref _stopping) != 0)
        {
            Release();
            return Reject(work, StoppedTag);
        }

        work.Next = null;
        work.EnqueuedAt = Stopwatch.GetTimestamp();
        var stripe = StripeOf(key);
        KeyQueue? queue;
        bool added = false, start = false;
        lock (stripe.Gate)
        {
            if (!stripe.Queues.TryGetValue(key, out queue))
            {
                queue = stripe.Rent(this, key);
                stripe.Queues.Add(key, queue);
                added = true;
            }
            if (queue.Count < _maxPerKey)
            {
                if (queue.Tail is null)
                    queue.Head = work;
                else
                    queue.Tail.Next = work;
                queue.Tail = work;
                queue.Count++;
                start = !queue.Active;
                queue.Active = true;
            }
            else
            {
                queue = null;
            }
        }
        if (queue is null)
        {
            Release();
            return Reject(work, KeyFullTag);
        }
        if (added)
            Interlocked.Increment(ref _activeKeys);
        if (start)
            ThreadPool.UnsafeQueueUserWorkItem(queue, preferLocal: false);
        return true;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the calling thread when its key is idle, as the key's servant
    /// (nothing else for the key runs meanwhile; what is queued for it during the run goes to the pool
    /// afterwards). False when the key is busy or the dispatcher stopping: queue it instead. For short
    /// work that runs no user code, where the hop to a pool thread would cost more than the work.
    /// </summary>
    public bool TryRunInline(TKey key, ServantWork work)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        if (Volatile.Read(ref _stopping) != 0)
            return false;
        if (Interlocked.Exchange(ref work.Queued, 1) != 0)
            throw new InvalidOperationException("This work item is already queued; a work object may be queued again only once it has started.");
        Interlocked.Increment(ref _depth);
        if (Volatile.Read(ref _stopping) != 0)
        {
            Volatile.Write(ref work.Queued, 0);
            Release();
            return false;
        }
        var stripe = StripeOf(key);
        KeyQueue queue;
        lock (stripe.Gate)
        {
            if (stripe.Queues.ContainsKey(key))
            {
                queue = null!;
            }
            else
            {
                queue = stripe.Rent(this, key);
                stripe.Queues.Add(key, queue);
                work.Next = null;
                work.EnqueuedAt = Stopwatch.GetTimestamp();
                queue.Head = work;
                queue.Tail = work;
                queue.Count = 1;
                queue.Active = true;
            }
        }
        if (queue is null)
        {
            Volatile.Write(ref work.Queued, 0);
            Release();
            return false;
        }
        Interlocked.Increment(ref _activeKeys);
        // What was queued for the key meanwhile continues on the pool, not on this caller.
        if (RunHead(queue))
            ThreadPool.UnsafeQueueUserWorkItem(queue, preferLocal: false);
        return true;
    }

    private bool Reject(ServantWork work, KeyValuePair<string, object?> reason)
    {
        Volatile.Write(ref work.Queued, 0);
        Interlocked.Increment(ref _rejected);
        _rejectedCounter.Add(1, _nameTag, reason);
        return false;
    }

    /// <summary>One accepted item is gone; the last one out while stopping completes the drain.</summary>
    private void Release()
    {
        if (Interlocked.Decrement(ref _depth) == 0 && Volatile.Read(ref _stopping) != 0)
            _drained.TrySetResult();
    }

    private Stripe StripeOf(TKey key) => _stripes[_comparer.GetHashCode(key) & (_stripes.Length - 1)];

    /// <summary>Runs the key's items on this pool thread until one awaits, the queue empties, or the turn is used up.</summary>
    private void Run(KeyQueue queue)
    {
        for (var turn = 0; ; turn++)
        {
            if (turn == _maxPerTurn)
            {
                // Give other keys the thread; this key goes to the back of the pool's queue.
                ThreadPool.UnsafeQueueUserWorkItem(queue, preferLocal: false);
                return;
            }
            if (!RunHead(queue))
                return;
        }
    }

    /// <summary>
    /// Runs the key's first item on this thread; true when it completed here and the key has more.
    /// An item that awaits resumes the key from its continuation (<see cref="Resume"/>).
    /// </summary>
    private bool RunHead(KeyQueue queue)
    {
        ServantWork work;
        lock (queue.Stripe.Gate)
        {
            work = queue.Head!;
            queue.Head = work.Next;
            if (queue.Head is null)
                queue.Tail = null;
        }
        work.Next = null;
        var waited = Stopwatch.GetTimestamp() - work.EnqueuedAt;
        Interlocked.Increment(ref _started);
        Interlocked.Add(ref _waitTicks, waited);
        RaiseMax(ref _maxWaitTicks, waited);
        _waitHistogram.Record(Stopwatch.GetElapsedTime(0, waited).TotalMilliseconds, _nameTag);
        queue.RunningType = work.GetType();
        // From here the dispatcher is done with the object: it may be queued again or pooled.
        Volatile.Write(ref work.Queued, 0);

        ValueTask pending;
        try
        {
            pending = work.RunAsync(_shutdown.Token);
        }
        catch (Exception error)
        {
            ItemFailed(queue, error);
            pending = default;
        }
        if (!pending.IsCompleted)
        {
            queue.Awaiter = pending.ConfigureAwait(false).GetAwaiter();
            queue.Awaiter.UnsafeOnCompleted(queue.Resume);
            return false;
        }
        try
        {
            pending.GetAwaiter().GetResult();
        }
        catch (Exception error)
        {
            ItemFailed(queue, error);
        }
        return ItemDone(queue);
    }

    /// <summary>An awaited item completed, on whatever thread completed it: note the outcome, then go back to the pool.</summary>
    private void Resume(KeyQueue queue)
    {
        try
        {
            queue.Awaiter.GetResult();
        }
        catch (Exception error)
        {
            ItemFailed(queue, error);
        }
        queue.Awaiter = default;
        if (ItemDone(queue))
            ThreadPool.UnsafeQueueUserWorkItem(queue, preferLocal: false);
    }

    /// <summary>Ends the running item; true when the key has more, false when its state was dropped (do not touch it again).</summary>
    private bool ItemDone(KeyQueue queue)
    {
        bool more;
        var stripe = queue.Stripe;
        lock (stripe.Gate)
        {
            queue.Count--;
            more = queue.Head is not null;
            if (!more)
            {
                queue.Active = false;
                stripe.Queues.Remove(queue.Key);
                stripe.Return(queue);
            }
        }
        if (!more)
            Interlocked.Decrement(ref _activeKeys);
        Interlocked.Increment(ref _completed);
        Release();
        return more;
    }

    private void ItemFailed(KeyQueue queue, Exception error)
    {
        Interlocked.Increment(ref _failed);
        _failedCounter.Add(1, _nameTag);
        if (error is OperationCanceledException && _shutdown.IsCancellationRequested)
            Log.ServantItemCancelled(_logger, _name, queue.Key.ToString() ?? "", queue.RunningType?.Name ?? "");
        else
            Log.ServantItemFailed(_logger, error, _name, queue.Key.ToString() ?? "", queue.RunningType?.Name ?? "");
    }

    private static void RaiseMax(ref long max, long value)
    {
        var current = Interlocked.Read(ref max);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref max, value, current);
            if (seen == current)
                return;
            current = seen;
        }
    }

    /// <summary>
    /// Stops accepting work (<see cref="TryEnqueue(TKey, ServantWork)"/> returns false from now on) and waits for every
    /// accepted item, queued ones included, to finish. Returns true when they did within <paramref name="timeout"/>;
    /// otherwise cancels the token the items were given, so the remaining ones (they still run, in order) can end
    /// quickly, and returns false without waiting for them.
    /// </summary>
    public async Task<bool> DrainAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _stopping, 1);
        if (Volatile.Read(ref _depth) == 0)
            _drained.TrySetResult();
        try
        {
            await _drained.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            Log.ServantDrainTimedOut(_logger, _name, QueueDepth, timeout);
            await _shutdown.CancelAsync().ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>Drains (<see cref="DrainAsync"/>) within <see cref="ServantOptions.ShutdownTimeout"/> and releases the meter it owns.</summary>
    public async ValueTask DisposeAsync()
    {
        var drained = await DrainAsync(_shutdownTimeout).ConfigureAwait(false);
        _ownedMeter?.Dispose();
        // Items still running after a timeout may still read the token.
        if (drained)
            _shutdown.Dispose();
    }

    private sealed class Stripe(IEqualityComparer<TKey> comparer)
    {
        public Lock Gate { get; } = new();

        public Dictionary<TKey, KeyQueue> Queues { get; } = new(comparer);

        private KeyQueue? _free;
        private int _freeCount;

        public KeyQueue Rent(ServantDispatcher<TKey> owner, TKey key)
        {
            var queue = _free;
            if (queue is null)
            {
                queue = new KeyQueue(owner, this);
            }
            else
            {
                _free = queue.NextFree;
                _freeCount--;
                queue.NextFree = null;
            }
            queue.Key = key;
            return queue;
        }

        public void Return(KeyQueue queue)
        {
            queue.Key = default!;
            queue.RunningType = null;
            if (_freeCount == FreeKeysPerStripe)
                return;
            queue.NextFree = _free;
            _free = queue;
            _freeCount++;
        }
    }

    /// <summary>One key's queue; it is also the thread-pool item that runs it, so scheduling allocates nothing.</summary>
    private sealed class KeyQueue : IThreadPoolWorkItem
    {
        private readonly ServantDispatcher<TKey> _owner;

        public KeyQueue(ServantDispatcher<TKey> owner, Stripe stripe)
        {
            _owner = owner;
            Stripe = stripe;
            Resume = () => _owner.Resume(this);
        }

        public Stripe Stripe { get; }

        /// <summary>The continuation of an awaited item, made once per queue object.</summary>
        public Action Resume { get; }

        public TKey Key = default!;
        public ServantWork? Head;
        public ServantWork? Tail;
        // Waiting and running items.
        public int Count;
        // A runner is scheduled, running or awaiting an item.
        public bool Active;
        public ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter Awaiter;
        public Type? RunningType;
        public KeyQueue? NextFree;

        public void Execute() => _owner.Run(this);
    }
}
