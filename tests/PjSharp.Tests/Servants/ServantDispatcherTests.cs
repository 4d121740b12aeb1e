using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using PjSharp.Servants;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Servants;

[CancelAfter(60_000)]
public sealed class ServantDispatcherTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static ServantDispatcher<string> Create(ServantOptions? options = null, IMeterFactory? meters = null, ILogger? logger = null) =>
        new(options ?? new ServantOptions { MaxQueuedPerKey = 100_000, MaxQueued = 1_000_000 }, meters, logger);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail("condition not met in time");
            await Task.Delay(5);
        }
    }

    /// <summary>Records the order it ran in and checks that no other item of its key ran at the same time.</summary>
    private sealed class OrderedWork(KeyLog log, int sequence, bool awaitInside) : ServantWork
    {
        public override async ValueTask RunAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref log.Running) != 1)
                log.Overlapped = true;
            log.Order.Add(sequence);
            if (awaitInside && sequence % 3 == 0)
                await Task.Yield();
            if (awaitInside && sequence % 7 == 0)
                await Task.Delay(1, cancellationToken);
            Interlocked.Decrement(ref log.Running);
        }
    }

    private sealed class KeyLog
    {
        public int Running;
        public bool Overlapped;
        // Only one item of a key runs at a time, so a plain list is safe; the test checks that too.
        public List<int> Order { get; } = [];
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task Items_of_a_key_run_one_at_a_time_in_submission_order_under_concurrent_producers(bool awaitInside)
    {
        await using var servants = Create();
        const int Keys = 16, PerKey = 300, Producers = 8;
        var logs = Enumerable.Range(0, Keys).Select(_ => new KeyLog()).ToArray();
        var next = new int[Keys];
        var gates = Enumerable.Range(0, Keys).Select(_ => new object()).ToArray();
        // Producers race on every key; a per-key lock around numbering and enqueue makes submission order well defined.
        await Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < Keys * PerKey / Producers; i++)
            {
                var key = (i + p) % Keys;
                lock (gates[key])
                    Assert.That(servants.TryEnqueue("key" + key, new OrderedWork(logs[key], next[key]++, awaitInside)), Is.True);
            }
        })));
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        for (var key = 0; key < Keys; key++)
        {
            Assert.That(logs[key].Overlapped, Is.False, $"key{key} ran two items at once");
            Assert.That(logs[key].Order, Is.EqualTo(Enumerable.Range(0, next[key])), $"key{key} order");
        }
        Assert.That(servants.Completed, Is.EqualTo(Keys * PerKey));
    }

    [Test]
    public async Task Different_keys_run_in_parallel_on_pool_threads_and_one_key_waits()
    {
        await using var servants = Create();
        var aStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var threads = new ConcurrentBag<(string Item, int Thread, bool Pool)>();
        var secondOfA = false;
        // Each blocks its thread until the other has started: only possible if they run at the same time.
        Assert.That(servants.TryEnqueue("a", _ =>
        {
            threads.Add(("a", Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));
            aStarted.SetResult();
            bStarted.Task.Wait(Patience, CancellationToken.None);
            return ValueTask.CompletedTask;
        }), Is.True);
        Assert.That(servants.TryEnqueue("a", _ =>
        {
            secondOfA = bStarted.Task.IsCompleted;
            return ValueTask.CompletedTask;
        }), Is.True);
        Assert.That(servants.TryEnqueue("b", _ =>
        {
            threads.Add(("b", Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread));
            bStarted.SetResult();
            aStarted.Task.Wait(Patience, CancellationToken.None);
            return ValueTask.CompletedTask;
        }), Is.True);
        await Task.WhenAll(aStarted.Task, bStarted.Task).WaitAsync(Patience);
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        Assert.That(threads.Select(t => t.Thread).Distinct().Count(), Is.EqualTo(2), "two threads at once");
        Assert.That(threads.All(t => t.Pool), Is.True, "on the thread pool");
        Assert.That(secondOfA, Is.True, "a's second item started after a's first ended");
    }

    [Test]
    public async Task The_next_item_never_starts_on_the_enqueuing_thread_or_on_the_thread_that_completed_an_await()
    {
        await using var servants = Create();
        var awaited = new TaskCompletionSource(); // synchronous continuations, like a careless completion from a pjsip thread
        int completer = 0, enqueuer = 0, secondThread = 0;
        var secondOnPool = false;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var producer = new Thread(() =>
        {
            enqueuer = Environment.CurrentManagedThreadId;
            servants.TryEnqueue("k", async _ => await awaited.Task);
            servants.TryEnqueue("k", _ =>
            {
                secondThread = Environment.CurrentManagedThreadId;
                secondOnPool = Thread.CurrentThread.IsThreadPoolThread;
                done.SetResult();
                return ValueTask.CompletedTask;
            });
        });
        producer.Start();
        producer.Join();
        await WaitUntilAsync(() => servants.Started == 1);
        var completing = new Thread(() =>
        {
            completer = Environment.CurrentManagedThreadId;
            awaited.SetResult();
        });
        completing.Start();
        completing.Join();
        await done.Task.WaitAsync(Patience);
        Assert.That(secondOnPool, Is.True);
        Assert.That(secondThread, Is.Not.EqualTo(completer).And.Not.EqualTo(enqueuer));
    }

    [Test]
    public async Task A_full_key_refuses_at_once_and_counts_while_other_keys_are_accepted()
    {
        await using var servants = Create(new ServantOptions { MaxQueuedPerKey = 3, MaxQueued = 100 });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ran = 0;
        ValueTask Blocked(CancellationToken _) => new(gate.Task.ContinueWith(_ => Interlocked.Increment(ref ran), TaskScheduler.Default));
        Assert.That(servants.TryEnqueue("busy", Blocked), Is.True);
        Assert.That(servants.TryEnqueue("busy", Blocked), Is.True);
        Assert.That(servants.TryEnqueue("busy", Blocked), Is.True);
        Assert.That(servants.TryEnqueue("busy", Blocked), Is.False, "the key holds 3 (one running, two waiting)");
        Assert.That(servants.TryEnqueue("busy", Blocked), Is.False);
        Assert.That(servants.TryEnqueue("other", Blocked), Is.True);
        Assert.That(servants.Rejected, Is.EqualTo(2));
        Assert.That(servants.GetQueueDepth("busy"), Is.EqualTo(3));
        Assert.That(servants.QueueDepth, Is.EqualTo(4));
        gate.SetResult();
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        Assert.That(ran, Is.EqualTo(4), "refused items never run");
        Assert.That(servants.TryEnqueue("busy", Blocked), Is.True, "room again once drained");
    }

    [Test]
    public async Task The_high_water_mark_counts_all_keys_and_refuses_at_once()
    {
        await using var servants = Create(new ServantOptions { MaxQueuedPerKey = 10, MaxQueued = 5 });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask Blocked(CancellationToken _) => new(gate.Task);
        for (var i = 0; i < 5; i++)
            Assert.That(servants.TryEnqueue("k" + i % 3, Blocked), Is.True);
        Assert.That(servants.TryEnqueue("k0", Blocked), Is.False);
        Assert.That(servants.TryEnqueue("fresh", Blocked), Is.False);
        Assert.That(servants.Rejected, Is.EqualTo(2));
        Assert.That(servants.QueueDepth, Is.EqualTo(5), "refusals leave the depth alone");
        gate.SetResult();
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        Assert.That(servants.TryEnqueue("fresh", Blocked), Is.True);
    }

    private sealed class Thrower(bool afterAwait) : ServantWork
    {
        public override async ValueTask RunAsync(CancellationToken cancellationToken)
        {
            if (afterAwait)
                await Task.Yield();
            throw new InvalidOperationException("work bug");
        }
    }

    private sealed class SyncThrower : ServantWork
    {
        public override ValueTask RunAsync(CancellationToken cancellationToken) => throw new InvalidOperationException("work bug before any await");
    }

    [Test]
    public async Task An_item_that_throws_is_logged_and_the_key_goes_on()
    {
        using var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        await using var servants = Create(logger: factory.CreateLogger("servants"));
        var order = new ConcurrentQueue<int>();
        servants.TryEnqueue("k", new Thrower(afterAwait: false));
        servants.TryEnqueue("k", _ => { order.Enqueue(1); return ValueTask.CompletedTask; });
        servants.TryEnqueue("k", new Thrower(afterAwait: true));
        servants.TryEnqueue("k", new SyncThrower());
        servants.TryEnqueue("k", _ => { order.Enqueue(2); return ValueTask.CompletedTask; });
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        Assert.That(order, Is.EqualTo(new[] { 1, 2 }));
        Assert.That(servants.Failed, Is.EqualTo(3));
        Assert.That(servants.Completed, Is.EqualTo(5));
        var errors = logs.Entries.Where(e => e.Id.Id == 1101).ToList();
        Assert.That(errors, Has.Count.EqualTo(3));
        Assert.That(errors.All(e => e.Level == LogLevel.Error && e.Exception is InvalidOperationException), Is.True);
        Assert.That(errors[0].Message, Does.Contain("'k'").And.Contain("Thrower"));
    }

    [Test]
    public async Task The_state_of_a_key_is_dropped_when_its_queue_drains()
    {
        await using var servants = Create(new ServantOptions { MaxQueuedPerKey = 4, MaxQueued = 200_000 });
        var ran = 0;
        for (var i = 0; i < 50_000; i++)
        {
            Assert.That(servants.TryEnqueue("call-" + i, _ =>
            {
                Interlocked.Increment(ref ran);
                return ValueTask.CompletedTask;
            }), Is.True);
        }
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        Assert.That(ran, Is.EqualTo(50_000));
        Assert.That(servants.ActiveKeys, Is.Zero);
        Assert.That(servants.GetQueueDepth("call-7"), Is.Zero);

        // A key comes back to life cleanly after its state was dropped (and possibly reused for another key).
        var again = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        servants.TryEnqueue("call-7", _ => { again.SetResult(); return ValueTask.CompletedTask; });
        await again.Task.WaitAsync(Patience);
        await WaitUntilAsync(() => servants.ActiveKeys == 0);
    }

    private sealed class Repeating(int times, ServantDispatcher<string> servants, ConcurrentQueue<int> log) : ServantWork
    {
        private int _runs;

        public override ValueTask RunAsync(CancellationToken cancellationToken)
        {
            log.Enqueue(++_runs);
            // Queued again from inside its own run: allowed once it has started.
            if (_runs < times)
                Assert.That(servants.TryEnqueue("k", this), Is.True);
            return ValueTask.CompletedTask;
        }
    }

    [Test]
    public async Task A_work_object_can_be_queued_again_once_started_but_not_while_queued()
    {
        await using var servants = Create();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        servants.TryEnqueue("k", _ => new ValueTask(gate.Task));
        var log = new ConcurrentQueue<int>();
        var work = new Repeating(3, servants, log);
        Assert.That(servants.TryEnqueue("k", work), Is.True);
        Assert.Throws<InvalidOperationException>(() => servants.TryEnqueue("k", work));
        Assert.Throws<InvalidOperationException>(() => servants.TryEnqueue("other", work));
        gate.SetResult();
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        Assert.That(log, Is.EqualTo(new[] { 1, 2, 3 }));
    }

    [Test]
    public async Task Metrics_report_depth_keys_wait_rejections_and_failures()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        await using var servants = Create(new ServantOptions { Name = "registrar", MaxQueuedPerKey = 2, MaxQueued = 3 }, meters);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask Blocked(CancellationToken _) => new(gate.Task);
        Assert.That(servants.TryEnqueue("a", Blocked), Is.True);
        Assert.That(servants.TryEnqueue("a", Blocked), Is.True);
        Assert.That(servants.TryEnqueue("a", Blocked), Is.False, "key full");
        Assert.That(servants.TryEnqueue("b", Blocked), Is.True);
        Assert.That(servants.TryEnqueue("c", Blocked), Is.False, "all full");
        await WaitUntilAsync(() => servants.Started == 2);

        recorder.Observe();
        var depth = recorder.Of("pjsharp.servant.queue.depth");
        Assert.That(depth.Select(m => m.Value), Is.EqualTo(new[] { 3.0 }));
        Assert.That(depth[0].Tags["pjsharp.servant.name"], Is.EqualTo("registrar"));
        Assert.That(recorder.Of("pjsharp.servant.keys").Select(m => m.Value), Is.EqualTo(new[] { 2.0 }));
        var rejected = recorder.Of("pjsharp.servant.rejected");
        Assert.That(rejected.Select(m => (string?)m.Tags["reason"]), Is.EquivalentTo(new[] { "key_full", "full" }));
        Assert.That(rejected.All(m => m.Value == 1 && (string?)m.Tags["pjsharp.servant.name"] == "registrar"), Is.True);

        await Task.Delay(30);
        gate.SetResult();
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        Assert.That(servants.TryEnqueue("d", _ => throw new InvalidOperationException("boom")), Is.True);
        await WaitUntilAsync(() => servants.Completed == 4);
        var waits = recorder.Of("pjsharp.servant.wait");
        Assert.That(waits, Has.Count.EqualTo(4), "one wait per started item");
        Assert.That(waits.Max(m => m.Value), Is.GreaterThanOrEqualTo(25), "a's second item waited behind the gate (ms)");
        Assert.That(servants.MaxWaitTime, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(25)));
        Assert.That(servants.AverageWaitTime, Is.GreaterThan(TimeSpan.Zero).And.LessThanOrEqualTo(servants.MaxWaitTime));
        Assert.That(recorder.Of("pjsharp.servant.failed").Sum(m => m.Value), Is.EqualTo(1));
        Assert.That(servants.Rejected, Is.EqualTo(2));
    }

    [Test]
    public async Task Drain_refuses_new_work_and_waits_for_everything_accepted()
    {
        using var meters = new TestMeterFactory();
        using var recorder = new MetricRecorder(meters);
        var servants = Create(meters: meters);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ran = 0;
        servants.TryEnqueue("a", async _ => { await gate.Task; Interlocked.Increment(ref ran); });
        servants.TryEnqueue("a", _ => { Interlocked.Increment(ref ran); return ValueTask.CompletedTask; });
        servants.TryEnqueue("b", async _ => { await gate.Task; Interlocked.Increment(ref ran); });

        var drain = servants.DrainAsync(Patience);
        Assert.That(servants.IsStopping, Is.True);
        Assert.That(servants.TryEnqueue("c", _ => ValueTask.CompletedTask), Is.False, "refused while draining");
        Assert.That(recorder.Of("pjsharp.servant.rejected").Single().Tags["reason"], Is.EqualTo("stopped"));
        await Task.Delay(20);
        Assert.That(drain.IsCompleted, Is.False);
        gate.SetResult();
        Assert.That(await drain, Is.True);
        Assert.That(ran, Is.EqualTo(3), "queued items ran too");
        await servants.DisposeAsync();
        Assert.That(servants.TryEnqueue("d", _ => ValueTask.CompletedTask), Is.False);
    }

    [Test]
    public async Task Drain_that_times_out_cancels_the_items_token_and_the_rest_still_run()
    {
        using var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        await using var servants = Create(logger: factory.CreateLogger("servants"));
        var sawCancelled = false;
        servants.TryEnqueue("a", async token => await Task.Delay(Timeout.Infinite, token));
        servants.TryEnqueue("a", token => { sawCancelled = token.IsCancellationRequested; return ValueTask.CompletedTask; });
        await WaitUntilAsync(() => servants.Started == 1);

        Assert.That(await servants.DrainAsync(TimeSpan.FromMilliseconds(100)), Is.False);
        await WaitUntilAsync(() => servants.QueueDepth == 0);
        Assert.That(sawCancelled, Is.True, "later items run with the cancelled token, so they can end quickly");
        Assert.That(logs.Entries.Any(e => e.Id.Id == 1103 && e.Level == LogLevel.Warning), Is.True);
        Assert.That(logs.Entries.Any(e => e.Id.Id == 1102 && e.Level == LogLevel.Debug), Is.True, "a cancelled item is not an error");
        Assert.That(logs.Entries.Any(e => e.Id.Id == 1101), Is.False);
    }

    private sealed class RecordingWork(Action run) : ServantWork
    {
        public override ValueTask RunAsync(CancellationToken cancellationToken)
        {
            run();
            return ValueTask.CompletedTask;
        }
    }

    [Test]
    public async Task An_idle_key_runs_inline_work_on_the_calling_thread_and_a_busy_key_refuses_it()
    {
        await using var servants = Create();
        var caller = Environment.CurrentManagedThreadId;
        var ranOn = 0;
        Assert.That(servants.TryRunInline("a", new RecordingWork(() => ranOn = Environment.CurrentManagedThreadId)), Is.True);
        Assert.That(ranOn, Is.EqualTo(caller), "ran here, before TryRunInline returned");
        Assert.That(servants.QueueDepth, Is.Zero);
        Assert.That(servants.ActiveKeys, Is.Zero, "the key's state is dropped afterwards");

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var order = new ConcurrentQueue<string>();
        Assert.That(servants.TryEnqueue("b", async _ =>
        {
            await release.Task;
            order.Enqueue("queued");
        }), Is.True);
        var inline = new RecordingWork(() => order.Enqueue("inline"));
        Assert.That(servants.TryRunInline("b", inline), Is.False, "busy: the caller must queue it instead");
        Assert.That(servants.TryEnqueue("b", inline), Is.True, "a refused item can still be queued");
        release.SetResult();
        await WaitUntilAsync(() => order.Count == 2);
        Assert.That(order, Is.EqualTo(new[] { "queued", "inline" }), "order per key is kept");
    }

    [Test]
    public async Task Work_queued_for_a_key_while_it_runs_inline_continues_on_the_pool_in_order()
    {
        await using var servants = Create();
        var order = new ConcurrentQueue<(string Item, bool Pool)>();
        var inline = new RecordingWork(() =>
        {
            order.Enqueue(("inline", Thread.CurrentThread.IsThreadPoolThread));
            Assert.That(servants.TryEnqueue("a", _ =>
            {
                order.Enqueue(("next", Thread.CurrentThread.IsThreadPoolThread));
                return ValueTask.CompletedTask;
            }), Is.True);
        });
        var thread = new Thread(() => servants.TryRunInline("a", inline)) { IsBackground = true };
        thread.Start();
        thread.Join(Patience);
        await WaitUntilAsync(() => order.Count == 2);
        Assert.That(order.Select(o => o.Item), Is.EqualTo(new[] { "inline", "next" }));
        Assert.That(order.Last().Pool, Is.True, "what came after runs on the pool, not on the inline caller");
    }
}
