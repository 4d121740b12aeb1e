using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using PjSharp.DataAccess.Sqlite;
using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.Writing;

[CancelAfter(120_000)]
public sealed class ContactWriterTests
{
    private static ObjectStore StoreOver(IObjectBackend backend) =>
        new ObjectStoreBuilder().AddBackend("db", backend).Map(Contact.Type, "db").Build();

    private static Contact ContactOf(string aor, int n) => Samples.ContactOf(aor, n);

    [Test]
    public async Task Five_thousand_upserts_from_fifty_tasks_all_complete_and_survive_reopening()
    {
        using var dir = new TempDirectory();
        var options = new SqliteBackendOptions { Path = dir.File("contacts.db") };
        long batches;
        await using (var store = StoreOver(await SqliteBackend.OpenAsync(options)))
        {
            await using var writer = new ContactWriter(store);
            // Each task is a servant: it awaits its write before the next, as a registrar awaits before answering 200.
            await Task.WhenAll(Enumerable.Range(0, 50).Select(t => Task.Run(async () =>
            {
                for (var i = 0; i < 100; i++)
                    await writer.UpsertAsync(ContactOf("aor" + t.ToString(CultureInfo.InvariantCulture), i));
            })));
            Assert.That(writer.WritesCommitted, Is.EqualTo(5000));
            Assert.That(writer.BatchesFailed, Is.Zero);
            batches = writer.BatchesCommitted;
            TestContext.Out.WriteLine($"5000 writes in {batches} commits (largest batch {writer.LargestBatch})");
        }
        await using var reopened = await SqliteBackend.OpenAsync(options);
        var stored = await reopened.RetrieveAllAsync(Contact.Type);
        Assert.That(stored, Has.Count.EqualTo(5000));
        Assert.That(stored, Does.Contain(ContactOf("aor49", 99)).And.Contain(ContactOf("aor0", 0)));
    }

    [Test]
    public async Task A_write_completes_only_after_its_batch_is_committed()
    {
        var gated = new GatedBackend(new MemoryBackend());
        await using var store = StoreOver(gated);
        await using var writer = new ContactWriter(store);
        gated.HoldNextBatch();
        var write = writer.UpsertAsync(ContactOf("alice", 1));
        await gated.Held;
        await Task.Delay(50);
        Assert.That(write.IsCompleted, Is.False, "not committed yet");
        Assert.That(await gated.Inner.RetrieveAsync(Contact.Type, ContactOf("alice", 1).Id), Is.Null);
        gated.Release();
        await write;
        Assert.That(await gated.Inner.RetrieveAsync(Contact.Type, ContactOf("alice", 1).Id), Is.EqualTo(ContactOf("alice", 1)));
    }

    [Test]
    public async Task Writes_queued_during_a_commit_form_the_next_batch()
    {
        var gated = new GatedBackend(new MemoryBackend());
        await using var store = StoreOver(gated);
        await using var writer = new ContactWriter(store);
        gated.HoldNextBatch();
        var first = writer.UpsertAsync(ContactOf("alice", 0));
        await gated.Held;
        var queued = Enumerable.Range(1, 10).Select(i => writer.UpsertAsync(ContactOf("alice", i))).ToList();
        gated.Release();
        await first;
        await Task.WhenAll(queued);
        Assert.That(writer.BatchesCommitted, Is.EqualTo(2));
        Assert.That(writer.LargestBatch, Is.EqualTo(10));
        Assert.That(await store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice")), Has.Count.EqualTo(11));
    }

    [Test]
    public async Task A_batch_is_cut_at_the_maximum_size_without_splitting_a_request()
    {
        var gated = new GatedBackend(new MemoryBackend());
        await using var store = StoreOver(gated);
        await using var writer = new ContactWriter(store, new ContactWriterOptions { MaxBatchSize = 4 });
        gated.HoldNextBatch();
        var first = writer.UpsertAsync(ContactOf("a", 0));
        await gated.Held;
        var pair = Enumerable.Range(0, 5).Select(i => writer.WriteAsync([ObjectWrite.Upsert(ContactOf("b", i)), ObjectWrite.Upsert(ContactOf("c", i))])).ToList();
        gated.Release();
        await first;
        await Task.WhenAll(pair);
        Assert.That(writer.BatchesCommitted, Is.EqualTo(4), "1, then 4 + 4 + 2");
        Assert.That(writer.LargestBatch, Is.EqualTo(4));
    }

    [Test]
    public async Task A_failed_commit_fails_every_write_of_its_batch_and_later_batches_succeed()
    {
        using var dir = new TempDirectory();
        var path = dir.File("poison.db");
        var gated = new GatedBackend(await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = path }));
        await Poison.AddToSqliteAsync(path);
        await using var store = StoreOver(gated);
        await using var writer = new ContactWriter(store);

        gated.HoldNextBatch();
        var first = writer.UpsertAsync(ContactOf("alice", 0));
        await gated.Held;
        var good1 = writer.UpsertAsync(ContactOf("alice", 1));
        var bad = writer.UpsertAsync(Poison.Contact());
        var good2 = writer.DeleteAsync(ContactOf("alice", 0));
        gated.Release();

        await first;
        Assert.ThrowsAsync<SqliteException>(async () => await good1);
        Assert.ThrowsAsync<SqliteException>(async () => await bad);
        Assert.ThrowsAsync<SqliteException>(async () => await good2);
        Assert.That(writer.BatchesFailed, Is.EqualTo(1));
        Assert.That((await store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice"))).Select(c => c.Id), Is.EqualTo(new[] { ContactOf("alice", 0).Id }),
            "nothing of the failed batch was written");

        await writer.UpsertAsync(ContactOf("alice", 2));
        Assert.That(await store.GetAsync<Contact>(ContactOf("alice", 2).Id), Is.Not.Null, "the writer goes on after a failure");
    }

    [Test]
    public async Task The_writes_of_one_call_are_committed_together_or_not_at_all()
    {
        using var dir = new TempDirectory();
        var path = dir.File("together.db");
        await using var store = StoreOver(await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = path }));
        await Poison.AddToSqliteAsync(path);
        await using var writer = new ContactWriter(store);
        await writer.UpsertAsync(ContactOf("alice", 0));

        await writer.WriteAsync([ObjectWrite.Delete(ContactOf("alice", 0)), ObjectWrite.Upsert(ContactOf("alice", 1))]);
        Assert.That((await store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice"))).Select(c => c.Id), Is.EqualTo(new[] { ContactOf("alice", 1).Id }));

        Assert.ThrowsAsync<SqliteException>(async () => await writer.WriteAsync([ObjectWrite.Delete(ContactOf("alice", 1)), ObjectWrite.Upsert(Poison.Contact())]));
        Assert.That((await store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice"))).Select(c => c.Id), Is.EqualTo(new[] { ContactOf("alice", 1).Id }));
    }

    [Test]
    public async Task A_write_the_store_cannot_make_fails_at_once_without_joining_a_batch()
    {
        using var dir = new TempDirectory();
        await using var store = new ObjectStoreBuilder()
            .AddBackend("file", PjsipConfBackend.Load(dir.Write("pjsip.conf", "")))
            .AddBackend("memory", new MemoryBackend())
            .Map(Endpoint.Type, "file")
            .Map(Contact.Type, "memory")
            .Build();
        await using var writer = new ContactWriter(store);
        Assert.Throws<ReadOnlyBackendException>(() => writer.WriteAsync([ObjectWrite.Upsert(ContactOf("alice", 1)), ObjectWrite.Upsert(new Endpoint("x"))]));
        Assert.Throws<InvalidOperationException>(() => writer.WriteAsync([ObjectWrite.Upsert(new Aor("unmapped"))]));
        Assert.Throws<ArgumentException>(() => writer.WriteAsync([default]));
        await writer.UpsertAsync(ContactOf("alice", 2));
        Assert.That((await store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice"))).Select(c => c.Id), Is.EqualTo(new[] { ContactOf("alice", 2).Id }));
        Assert.That(writer.BatchesFailed, Is.Zero);
    }

    [Test]
    public async Task Dispose_commits_what_is_queued_and_refuses_later_writes()
    {
        var gated = new GatedBackend(new MemoryBackend());
        await using var store = StoreOver(gated);
        var writer = new ContactWriter(store);
        gated.HoldNextBatch();
        var first = writer.UpsertAsync(ContactOf("alice", 0));
        await gated.Held;
        var queued = Enumerable.Range(1, 5).Select(i => writer.UpsertAsync(ContactOf("alice", i))).ToList();
        var disposing = writer.DisposeAsync().AsTask();
        Assert.ThrowsAsync<ObjectDisposedException>(async () => await writer.UpsertAsync(ContactOf("late", 0)));
        gated.Release();
        await disposing;
        await first;
        await Task.WhenAll(queued);
        Assert.That(await store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice")), Has.Count.EqualTo(6));
    }

    [Test]
    public async Task A_full_queue_makes_callers_wait_and_their_token_cancels_the_wait()
    {
        var gated = new GatedBackend(new MemoryBackend());
        await using var store = StoreOver(gated);
        await using var writer = new ContactWriter(store, new ContactWriterOptions { MaxQueuedRequests = 1 });
        gated.HoldNextBatch();
        var first = writer.UpsertAsync(ContactOf("alice", 0));
        await gated.Held;
        var second = writer.UpsertAsync(ContactOf("alice", 1));
        using var cancel = new CancellationTokenSource();
        var third = writer.UpsertAsync(ContactOf("alice", 2), cancel.Token);
        await Task.Delay(50);
        Assert.That(third.IsCompleted, Is.False, "waiting for room");
        await cancel.CancelAsync();
        Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), async () => await third);
        gated.Release();
        await Task.WhenAll(first, second);
        Assert.That(await store.GetAsync<Contact>(ContactOf("alice", 2).Id), Is.Null, "the cancelled write was never queued");
    }

    [Test]
    public async Task Measure_group_commit_against_one_commit_per_write()
    {
        const int Writes = 2000;
        const int Tasks = 50;
        using var dir = new TempDirectory();

        await using var single = StoreOver(await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = dir.File("single.db") }));
        var unbatched = await TimeAsync(Writes, Tasks, c => single.UpsertAsync(c).AsTask());

        await using var grouped = StoreOver(await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = dir.File("grouped.db") }));
        await using var writer = new ContactWriter(grouped);
        var batched = await TimeAsync(Writes, Tasks, c => writer.UpsertAsync(c));

        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"SQLite (WAL, synchronous=FULL), {Writes} contact upserts from {Tasks} concurrent tasks:"));
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  one commit per write: {unbatched.TotalMilliseconds,8:F0} ms  {Writes / unbatched.TotalSeconds,8:F0} writes/s"));
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  group commit:         {batched.TotalMilliseconds,8:F0} ms  {Writes / batched.TotalSeconds,8:F0} writes/s  ({writer.BatchesCommitted} commits, largest {writer.LargestBatch})"));
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  speed-up: {unbatched / batched:F1}x"));
        Assert.That(await grouped.FindByPrefixAsync<Contact>(Contact.IdPrefix("m0")), Has.Count.EqualTo(Writes / Tasks));
    }

    private static async Task<TimeSpan> TimeAsync(int writes, int tasks, Func<Contact, Task> write)
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, tasks).Select(t => Task.Run(async () =>
        {
            for (var i = 0; i < writes / tasks; i++)
                await write(ContactOf("m" + t.ToString(CultureInfo.InvariantCulture), i));
        })));
        return clock.Elapsed;
    }
}
