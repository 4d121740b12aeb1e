using Npgsql;
using PjSharp.DataAccess.PostgreSql;
using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.PostgreSql;

public sealed class PostgreSqlBackendTests
{
    private string _schema = null!;

    [SetUp]
    public async Task SetUp()
    {
        await TestPostgres.EnsureReachableAsync();
        _schema = TestPostgres.NewSchemaName();
    }

    [TearDown]
    public Task TearDown() => TestPostgres.DropSchemaAsync(_schema);

    private static async Task<ObjectStore> StoreAsync(PostgreSqlBackend backend) =>
        await Task.FromResult(new ObjectStoreBuilder()
            .AddBackend("pg", backend)
            .Map(Endpoint.Type, "pg")
            .Map(Contact.Type, "pg")
            .Cache(Endpoint.Type, TimeSpan.FromHours(1))
            .Cache(Contact.Type, TimeSpan.FromHours(1))
            .Build());

    [Test]
    public async Task A_batch_is_one_transaction_a_failure_inside_writes_nothing()
    {
        await using var backend = await TestPostgres.OpenAsync(_schema, listen: false);
        var kept = Samples.ContactOf("alice", 1);
        await backend.CreateAsync(kept);
        await Poison.AddToPostgresAsync(_schema);

        Assert.ThrowsAsync<PostgresException>(async () => await backend.WriteBatchAsync(
            [ObjectWrite.Upsert(Samples.ContactOf("alice", 2)), ObjectWrite.Delete(kept), ObjectWrite.Upsert(Poison.Contact()), ObjectWrite.Upsert(Samples.ContactOf("alice", 3))]));

        var stored = await backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("alice"));
        Assert.That(stored, Is.EqualTo(new[] { kept }), "the upsert before the failure and the delete were rolled back");
        Assert.That(await backend.WriteBatchAsync([ObjectWrite.Upsert(Samples.ContactOf("alice", 4))]), Is.EqualTo(new ChangeKind?[] { ChangeKind.Created }));
    }

    [Test]
    public async Task A_batch_sent_in_one_round_trip_reports_each_write_as_statement_by_statement_does()
    {
        await using var backend = await TestPostgres.OpenAsync(_schema, listen: false);
        var first = Samples.ContactOf("alice", 1);
        var changed = first with { UserAgent = "changed" };
        var other = Samples.ContactOf("alice", 2);

        var results = await backend.WriteBatchAsync([
            ObjectWrite.Upsert(first),
            ObjectWrite.Upsert(changed),
            ObjectWrite.Delete(Contact.Type, "alice;@nothing"),
            ObjectWrite.Upsert(other),
            ObjectWrite.Delete(other),
        ]);

        Assert.That(results, Is.EqualTo(new ChangeKind?[] { ChangeKind.Created, ChangeKind.Updated, null, ChangeKind.Created, ChangeKind.Deleted }));
        Assert.That(await backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("alice")), Is.EqualTo(new[] { changed }),
            "the update replaced every field, and the deleted contact left none behind");
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task A_batch_notifies_other_nodes_of_each_change()
    {
        await using var nodeA = await StoreAsync(await TestPostgres.OpenAsync(_schema, "node-a"));
        await using var nodeB = await StoreAsync(await TestPostgres.OpenAsync(_schema, "node-b"));
        var observerB = new RecordingObserver();
        nodeB.AddObserver<Contact>(observerB);
        var one = Samples.ContactOf("alice", 1);
        await nodeA.WriteBatchAsync([ObjectWrite.Upsert(one), ObjectWrite.Upsert(Samples.ContactOf("alice", 2)), ObjectWrite.Delete(one)]);
        Assert.That(await observerB.WaitForAsync(c => c is { Kind: ChangeKind.Deleted, Origin: ChangeOrigin.Remote } && c.Id == one.Id, TimeSpan.FromSeconds(2)), Is.True);
        Assert.That(observerB.Changes.Where(c => c.Origin == ChangeOrigin.Remote).Select(c => c.Kind),
            Is.EqualTo(new[] { ChangeKind.Created, ChangeKind.Created, ChangeKind.Deleted }));
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task Two_stores_on_one_database_see_each_others_writes_and_invalidations_within_a_second()
    {
        await using var nodeA = await StoreAsync(await TestPostgres.OpenAsync(_schema, "node-a"));
        await using var nodeB = await StoreAsync(await TestPostgres.OpenAsync(_schema, "node-b"));
        var observerB = new RecordingObserver();
        nodeB.AddObserver<Endpoint>(observerB);

        await nodeA.CreateAsync(new Endpoint("alice") { Context = "one" });
        Assert.That((await nodeB.GetAsync<Endpoint>("alice"))?.Context, Is.EqualTo("one"), "a write is visible to the other node at once");
        Assert.That(await observerB.WaitForAsync(c => c is { Kind: ChangeKind.Created, Id: "alice", Origin: ChangeOrigin.Remote }, TimeSpan.FromSeconds(1)), Is.True,
            "the other node's observers hear of the create within a second");

        // B now holds alice in its cache (loaded after the create's notification); A's update must evict it there.
        await nodeB.GetAsync<Endpoint>("alice");
        Assert.That(nodeB.GetCache(Endpoint.Type)!.TryGet("alice", out _), Is.True);
        await nodeA.UpdateAsync(new Endpoint("alice") { Context = "two" });
        var deadline = DateTime.UtcNow.AddSeconds(1);
        string? seen = null;
        while (DateTime.UtcNow < deadline && (seen = (await nodeB.GetAsync<Endpoint>("alice"))?.Context) != "two")
            await Task.Delay(10);
        Assert.That(seen, Is.EqualTo("two"), "the cache on the other node is invalidated within a second");

        await nodeB.DeleteAsync<Endpoint>("alice");
        var evicted = false;
        deadline = DateTime.UtcNow.AddSeconds(1);
        while (DateTime.UtcNow < deadline && !(evicted = await nodeA.GetAsync<Endpoint>("alice") is null))
            await Task.Delay(10);
        Assert.That(evicted, Is.True, "deletes propagate the other way too");
        Assert.That(observerB.Changes.Where(c => c.Origin == ChangeOrigin.Remote).Select(c => c.Kind), Is.EqualTo(new[] { ChangeKind.Created, ChangeKind.Updated }),
            "a node does not hear its own notifications back");
    }

    [Test]
    public async Task Contacts_upserted_on_one_node_are_found_by_aor_on_the_other()
    {
        await using var nodeA = await StoreAsync(await TestPostgres.OpenAsync(_schema));
        await using var nodeB = await StoreAsync(await TestPostgres.OpenAsync(_schema));
        for (var i = 0; i < 5; i++)
            await nodeA.UpsertAsync(Samples.ContactOf("alice", i));
        Assert.That(await nodeB.FindAsync<Contact>("aor", "alice"), Has.Count.EqualTo(5));
        Assert.That(await nodeB.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice")), Has.Count.EqualTo(5));
    }

    [Test]
    public async Task An_older_schema_is_migrated_at_start_and_by_field_uses_the_index()
    {
        var options = new PostgreSqlBackendOptions { ConnectionString = TestPostgres.ConnectionString, Schema = _schema, ListenForChanges = false, TargetSchemaVersion = 1 };
        await using (var old = await PostgreSqlBackend.OpenAsync(options))
        {
            Assert.That(old.SchemaVersion, Is.EqualTo(1));
            await old.CreateAsync(Samples.Alice);
        }
        options.TargetSchemaVersion = SqlObjectBackend.LatestSchemaVersion;
        await using var current = await PostgreSqlBackend.OpenAsync(options);
        Assert.That(current.SchemaVersion, Is.EqualTo(2));
        Assert.That(await current.RetrieveAsync(Endpoint.Type, "alice"), Is.EqualTo(Samples.Alice));

        await using var connection = new NpgsqlConnection(TestPostgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SET enable_seqscan = off; EXPLAIN SELECT m.id FROM \"{_schema}\".pjsharp_fields m WHERE m.type = 'contact' AND m.field = 'aor' AND left(m.value, 256) = left('alice', 256) AND m.value = 'alice'";
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                plan.Add(reader.GetString(0));
        }
        Assert.That(string.Join("\n", plan), Does.Contain("pjsharp_fields_by_value"));
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task A_lost_listener_reconnects_and_reports_a_reload_so_caches_drop_what_they_missed(CancellationToken cancellation)
    {
        var backend = await TestPostgres.OpenAsync(_schema);
        await using var store = await StoreAsync(backend);
        var observer = new RecordingObserver();
        store.AddObserver<Endpoint>(observer);

        await using (var connection = new NpgsqlConnection(TestPostgres.ConnectionString))
        {
            await connection.OpenAsync(cancellation);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = @listen";
            command.Parameters.AddWithValue("listen", $"LISTEN \"{backend.Channel}\"");
            Assert.That(await command.ExecuteScalarAsync(cancellation), Is.True, "the listener's connection was found and ended");
        }
        while (!observer.Reloads.Contains(Endpoint.Type))
            await Task.Delay(50, cancellation);

        // Notifications flow again after the reconnect.
        await using var other = await StoreAsync(await TestPostgres.OpenAsync(_schema));
        await other.CreateAsync(new Endpoint("after-reconnect"), cancellation);
        Assert.That(await observer.WaitForAsync(c => c.Id == "after-reconnect", TimeSpan.FromSeconds(5)), Is.True);
    }

    [Test]
    public async Task Long_values_are_stored_and_found()
    {
        await using var backend = await TestPostgres.OpenAsync(_schema, listen: false);
        var path = string.Concat(Enumerable.Repeat("<sip:proxy.example.com;lr>,", 400));
        var contact = Samples.ContactOf("alice", 1) with { Path = path };
        await backend.CreateAsync(contact);
        Assert.That(await backend.RetrieveByFieldAsync(Contact.Type, "path", path), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Reaching_no_server_fails_with_the_address()
    {
        var options = new PostgreSqlBackendOptions { ConnectionString = "Host=127.0.0.1;Port=1;Username=x;Password=y;Database=z;Timeout=2" };
        var error = Assert.CatchAsync(async () => await PostgreSqlBackend.OpenAsync(options));
        Assert.That(error, Is.InstanceOf<NpgsqlException>().Or.InstanceOf<System.Net.Sockets.SocketException>());
        await Task.CompletedTask;
    }

    [Test]
    [CancelAfter(30_000)]
    public async Task A_lease_is_held_by_one_node_renewed_by_it_and_taken_over_when_it_lapses()
    {
        await using var nodeA = await TestPostgres.OpenAsync(_schema, "node-a", listen: false);
        await using var nodeB = await TestPostgres.OpenAsync(_schema, "node-b", listen: false);
        var duration = TimeSpan.FromSeconds(2);

        Assert.That(await nodeA.TryAcquireLeaseAsync("contact-expiry", "node-a", duration), Is.True, "a free lease is granted");
        Assert.That(await nodeB.TryAcquireLeaseAsync("contact-expiry", "node-b", duration), Is.False, "another node's running lease is refused");
        Assert.That(await nodeB.TryAcquireLeaseAsync("other-work", "node-b", duration), Is.True, "leases are independent by name");
        Assert.That(await nodeA.TryAcquireLeaseAsync("contact-expiry", "node-a", duration), Is.True, "the holder renews");

        await Task.Delay(duration + TimeSpan.FromMilliseconds(500));
        Assert.That(await nodeB.TryAcquireLeaseAsync("contact-expiry", "node-b", duration), Is.True, "a lapsed lease passes to the next node");
        Assert.That(await nodeA.TryAcquireLeaseAsync("contact-expiry", "node-a", duration), Is.False, "and the former holder is refused");
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_lost_database_fails_requests_as_unavailable_and_they_work_again_when_it_is_back()
    {
        var builder = new NpgsqlConnectionStringBuilder(TestPostgres.ConnectionString);
        var address = System.Net.IPAddress.TryParse(builder.Host, out var ip) ? ip : (await System.Net.Dns.GetHostAddressesAsync(builder.Host!))[0];
        await using var relay = new TcpRelay(new System.Net.IPEndPoint(address, builder.Port));
        builder.Host = "127.0.0.1";
        builder.Port = relay.Port;
        builder.Timeout = 3;
        await TestPostgres.EnsureReachableAsync();
        await using var backend = await PostgreSqlBackend.OpenAsync(new PostgreSqlBackendOptions
        {
            ConnectionString = builder.ConnectionString, Schema = _schema, ListenForChanges = false,
        });
        await backend.CreateAsync(Samples.ContactOf("alice", 1));
        Assert.That(backend.IsAvailable, Is.True);

        relay.Cut();
        var write = Assert.ThrowsAsync<BackendUnavailableException>(async () => await backend.WriteBatchAsync([ObjectWrite.Upsert(Samples.ContactOf("alice", 2))]));
        Assert.That(write!.InnerException, Is.InstanceOf<NpgsqlException>());
        Assert.ThrowsAsync<BackendUnavailableException>(async () => await backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("alice")));
        Assert.That(backend.IsAvailable, Is.False);

        relay.Restore();
        // Pooled connections broken by the cut fail once each; a fresh one works.
        IReadOnlyList<SipObject>? stored = null;
        for (var attempt = 0; attempt < 20 && stored == null; attempt++)
        {
            try
            {
                await backend.WriteBatchAsync([ObjectWrite.Upsert(Samples.ContactOf("alice", 3))]);
                stored = await backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("alice"));
            }
            catch (BackendUnavailableException)
            {
                await Task.Delay(200);
            }
        }
        Assert.That(stored?.Select(c => c.Id), Is.EquivalentTo(new[] { Samples.ContactOf("alice", 1).Id, Samples.ContactOf("alice", 3).Id }),
            "nothing of the failed write was kept, and writes after the return are");
        Assert.That(backend.IsAvailable, Is.True);
    }
}
