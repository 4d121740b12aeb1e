using PjSharp.DataAccess.Sqlite;
using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.Store;

public sealed class ObjectStoreTests
{
    [Test]
    public async Task Reads_walk_the_chain_and_writes_go_to_the_first_writable_backend()
    {
        using var dir = new TempDirectory();
        var file = PjsipConfBackend.Load(dir.Write("pjsip.conf", "[alice]\ntype=endpoint\ncontext=from-file\n"));
        var memory = new MemoryBackend();
        await memory.CreateAsync(new Endpoint("alice") { Context = "shadowed" });
        await memory.CreateAsync(new Endpoint("bob") { Context = "from-memory" });
        await using var store = new ObjectStoreBuilder()
            .AddBackend("file", file)
            .AddBackend("memory", memory)
            .Map(Endpoint.Type, "file", "memory")
            .Build();

        Assert.That((await store.GetAsync<Endpoint>("alice"))?.Context, Is.EqualTo("from-file"));
        Assert.That((await store.GetAsync<Endpoint>("bob"))?.Context, Is.EqualTo("from-memory"));
        Assert.That((await store.GetAllAsync<Endpoint>()).Select(e => e.Context), Is.EqualTo(new[] { "from-file", "from-memory" }));
        Assert.That(await store.FindAsync<Endpoint>("context", "shadowed"), Is.Empty, "a shadowed object is not found by field either");

        await store.CreateAsync(new Endpoint("carol"));
        Assert.That(await memory.RetrieveAsync(Endpoint.Type, "carol"), Is.Not.Null);
        Assert.That(store.GetChain(Endpoint.Type).WriterFor(Endpoint.Type), Is.SameAs(memory));
    }

    [Test]
    public async Task A_type_with_only_read_only_backends_refuses_writes_clearly()
    {
        using var dir = new TempDirectory();
        await using var store = new ObjectStoreBuilder()
            .AddBackend("file", PjsipConfBackend.Load(dir.Write("pjsip.conf", "")))
            .Map(Endpoint.Type, "file")
            .Build();
        var error = Assert.ThrowsAsync<ReadOnlyBackendException>(async () => await store.CreateAsync(new Endpoint("x")));
        Assert.That(error!.Message, Does.Contain("no writable backend for endpoint"));
        var unmapped = Assert.ThrowsAsync<InvalidOperationException>(async () => await store.GetAsync<Aor>("x"));
        Assert.That(unmapped!.Message, Does.Contain("no backend is mapped for object type 'aor'"));
    }

    [Test]
    public async Task Observers_hear_created_updated_deleted_and_a_failing_observer_does_not_fail_the_write()
    {
        await using var store = new ObjectStoreBuilder().AddBackend("memory", new MemoryBackend()).Map(Aor.Type, "memory").Build();
        var observer = new RecordingObserver();
        using (store.AddObserver<Aor>(new ThrowingObserver()))
        using (store.AddObserver<Aor>(observer))
        {
            await store.CreateAsync(new Aor("a"));
            await store.UpdateAsync(new Aor("a") { MaxContacts = 3 });
            Assert.That(await store.UpsertAsync(new Aor("b")), Is.True);
            Assert.That(await store.UpsertAsync(new Aor("b")), Is.False);
            Assert.That(await store.DeleteAsync<Aor>("a"), Is.True);
            Assert.That(await store.DeleteAsync<Aor>("a"), Is.False);
        }
        await store.CreateAsync(new Aor("after-unsubscribe"));
        Assert.That(observer.Changes.Select(c => $"{c.Kind} {c.Id} {c.Origin}"), Is.EqualTo(new[]
        {
            "Created a Local", "Updated a Local", "Created b Local", "Updated b Local", "Deleted a Local",
        }));
        Assert.That(observer.Changes.Last().Value, Is.EqualTo(new Aor("a") { MaxContacts = 3 }), "a delete carries the object that was deleted");
    }

    [Test]
    public async Task A_write_batch_tells_observers_and_invalidates_the_cache()
    {
        var memory = new MemoryBackend();
        var one = Samples.ContactOf("alice", 1);
        await memory.CreateAsync(one);
        await using var store = new ObjectStoreBuilder()
            .AddBackend("memory", memory)
            .Map(Contact.Type, "memory")
            .Map(Aor.Type, "memory")
            .Cache(Contact.Type, TimeSpan.FromHours(1))
            .Build();
        Assert.That(await store.GetAsync<Contact>(one.Id), Is.EqualTo(one), "now cached");
        var observer = new RecordingObserver();
        store.AddObserver<Contact>(observer);
        store.AddObserver<Aor>(observer);

        var results = await store.WriteBatchAsync([
            ObjectWrite.Upsert(one with { UserAgent = "new" }),
            ObjectWrite.Upsert(new Aor("alice")),
            ObjectWrite.Delete(Contact.Type, "alice;@nothing"),
            ObjectWrite.Delete(one with { UserAgent = "new" }),
        ]);

        Assert.That(results, Is.EqualTo(new ChangeKind?[] { ChangeKind.Updated, ChangeKind.Created, null, ChangeKind.Deleted }));
        Assert.That(observer.Changes.Select(c => $"{c.Kind} {c.Type.Name}"), Is.EqualTo(new[] { "Updated contact", "Created aor", "Deleted contact" }));
        Assert.That(observer.Changes.Last().Value, Is.EqualTo(one with { UserAgent = "new" }), "a delete carries the object the caller gave");
        Assert.That(await store.GetAsync<Contact>(one.Id), Is.Null, "the cached copy was dropped");
    }

    [Test]
    public async Task A_write_batch_with_a_read_only_type_writes_nothing()
    {
        using var dir = new TempDirectory();
        var memory = new MemoryBackend();
        await using var store = new ObjectStoreBuilder()
            .AddBackend("file", PjsipConfBackend.Load(dir.Write("pjsip.conf", "")))
            .AddBackend("memory", memory)
            .Map(Endpoint.Type, "file")
            .Map(Contact.Type, "memory")
            .Build();
        var error = Assert.ThrowsAsync<ReadOnlyBackendException>(async () =>
            await store.WriteBatchAsync([ObjectWrite.Upsert(Samples.ContactOf("alice", 1)), ObjectWrite.Upsert(new Endpoint("x"))]));
        Assert.That(error!.Message, Does.Contain("no writable backend for endpoint"));
        Assert.That(await memory.RetrieveAllAsync(Contact.Type), Is.Empty);
    }

    [Test]
    public async Task The_cache_serves_hits_expires_and_is_invalidated_by_writes()
    {
        var clock = new ManualTimeProvider();
        var memory = new MemoryBackend();
        await memory.CreateAsync(new Endpoint("alice") { Context = "one" });
        await using var store = new ObjectStoreBuilder()
            .AddBackend("memory", memory)
            .Map(Endpoint.Type, "memory")
            .Cache(Endpoint.Type, TimeSpan.FromSeconds(60))
            .UseTimeProvider(clock)
            .Build();
        var cache = store.GetCache(Endpoint.Type)!;

        var first = await store.GetAsync<Endpoint>("alice");
        var second = await store.GetAsync<Endpoint>("alice");
        Assert.That(second, Is.SameAs(first));
        Assert.That((cache.Hits, cache.Misses), Is.EqualTo((1L, 1L)));

        // A change behind the store's back is only seen once the entry expires.
        await memory.UpdateAsync(new Endpoint("alice") { Context = "two" });
        Assert.That((await store.GetAsync<Endpoint>("alice"))?.Context, Is.EqualTo("one"));
        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.That((await store.GetAsync<Endpoint>("alice"))?.Context, Is.EqualTo("two"));

        // A change through the store invalidates at once.
        await store.UpdateAsync(new Endpoint("alice") { Context = "three" });
        Assert.That((await store.GetAsync<Endpoint>("alice"))?.Context, Is.EqualTo("three"));
        await store.DeleteAsync<Endpoint>("alice");
        Assert.That(await store.GetAsync<Endpoint>("alice"), Is.Null);
    }

    [Test]
    public async Task A_reload_invalidates_the_cache_and_tells_observers_only_what_changed()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", "[a]\ntype=endpoint\ncontext=one\n[b]\ntype=endpoint\n");
        await using var store = new ObjectStoreBuilder()
            .AddBackend("file", PjsipConfBackend.Load(path))
            .Map(Endpoint.Type, "file")
            .Cache(Endpoint.Type, TimeSpan.FromHours(1))
            .Build();
        var observer = new RecordingObserver();
        store.AddObserver<Endpoint>(observer);
        Assert.That((await store.GetAsync<Endpoint>("a"))?.Context, Is.EqualTo("one"));

        dir.Write("pjsip.conf", "[a]\ntype=endpoint\ncontext=two\n[b]\ntype=endpoint\n");
        var results = await store.ReloadAsync();
        Assert.That(results.Single().Applied, Is.True);
        Assert.That((await store.GetAsync<Endpoint>("a"))?.Context, Is.EqualTo("two"));
        Assert.That(observer.Changes.Select(c => $"{c.Kind} {c.Id} {c.Origin}"), Is.EqualTo(new[] { "Updated a Reload" }));
        Assert.That(observer.Reloads, Is.EqualTo(new[] { Endpoint.Type }));
    }

    [Test]
    public async Task A_cache_hit_by_id_does_not_allocate()
    {
        var memory = new MemoryBackend();
        await memory.CreateAsync(new Endpoint("alice"));
        await using var store = new ObjectStoreBuilder().AddBackend("m", memory).Map(Endpoint.Type, "m").Cache(Endpoint.Type, TimeSpan.FromHours(1)).Build();
        await store.GetAsync<Endpoint>("alice");
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            var pending = store.GetAsync<Endpoint>("alice");
            if (!pending.IsCompletedSuccessfully || pending.Result is null)
                Assert.Fail("a cache hit completes synchronously");
        }
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public async Task Embedded_defaults_read_the_file_then_sqlite_and_keep_contacts_in_sqlite()
    {
        using var dir = new TempDirectory();
        var file = PjsipConfBackend.Load(dir.Write("pjsip.conf", "[alice]\ntype=endpoint\n[alice]\ntype=aor\nmax_contacts=1\n"));
        var sqlite = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = dir.File("pjsharp.db") });
        await using var store = new ObjectStoreBuilder().UseEmbeddedDefaults(file, sqlite).Build();

        Assert.That(await store.GetAsync<Aor>("alice"), Is.Not.Null);
        await store.CreateAsync(new Endpoint("runtime") { Context = "added-at-run-time" });
        Assert.That(await sqlite.RetrieveAsync(Endpoint.Type, "runtime"), Is.Not.Null);
        await store.UpsertAsync(Samples.ContactOf("alice", 1));
        Assert.That(await store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice")), Has.Count.EqualTo(1));
        Assert.That(store.GetChain(Contact.Type).Backends, Is.EqualTo(new IObjectBackend[] { sqlite }));
    }

    [Test]
    public async Task Mapping_can_come_from_options()
    {
        var options = new ObjectStoreOptions();
        options.Map["endpoint"] = ["a", "b"];
        options.Map["contact"] = ["b"];
        options.Cache["endpoint"] = TimeSpan.FromSeconds(30);
        var a = new MemoryBackend("a");
        var b = new MemoryBackend("b");
        await using var store = new ObjectStoreBuilder().AddBackend("a", a).AddBackend("b", b).Configure(options).Build();
        Assert.That(store.GetChain(Endpoint.Type).Backends, Is.EqualTo(new IObjectBackend[] { a, b }));
        Assert.That(store.GetCache(Endpoint.Type)?.Expiry, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That(store.GetCache(Contact.Type), Is.Null);
        Assert.Throws<InvalidOperationException>(() => new ObjectStoreBuilder().Map(Endpoint.Type, "missing").Build());
    }

    private sealed class ThrowingObserver : IObjectObserver
    {
        public void Created(ObjectChange change) => throw new InvalidOperationException("observer bug");
    }
}
