using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.Contract;

/// <summary>The behaviour every backend shares; read-only backends must refuse writes clearly.</summary>
[TestFixtureSource(nameof(Kinds))]
[Parallelizable(ParallelScope.Self)]
public sealed class BackendContractTests(BackendKind kind)
{
    public static IEnumerable<BackendKind> Kinds => Enum.GetValues<BackendKind>();

    private BackendUnderTest _test = null!;

    private IObjectBackend Backend => _test.Backend;

    private bool Writable => !Backend.IsReadOnly;

    [SetUp]
    public async Task SetUp() => _test = await BackendUnderTest.CreateAsync(kind, Samples.ContractSeed);

    [TearDown]
    public async Task TearDown() => await _test.DisposeAsync();

    private void AssertWritesRefused()
    {
        Assert.ThrowsAsync<ReadOnlyBackendException>(async () => await Backend.UpsertAsync(Samples.Bob));
        Assert.ThrowsAsync<ReadOnlyBackendException>(async () => await Backend.DeleteAsync(Endpoint.Type, "bob"));
    }

    [Test]
    public async Task Retrieve_by_id_returns_the_stored_object_unchanged()
    {
        foreach (var expected in Samples.ContractSeed.Where(o => kind != BackendKind.Chain || o.ObjectType != GlobalSettings.Type))
        {
            var actual = await Backend.RetrieveAsync(expected.ObjectType, expected.Id);
            Assert.That(actual, Is.EqualTo(expected), $"{expected.ObjectType.Name} '{expected.Id}'");
        }
    }

    [Test]
    public async Task Retrieve_of_an_unknown_id_returns_null()
    {
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "nobody"), Is.Null);
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "ALICE"), Is.Null, "ids compare ordinally");
    }

    [Test]
    public async Task Types_sharing_an_id_are_separate_objects()
    {
        var endpoint = await Backend.RetrieveAsync(Endpoint.Type, "alice");
        var aor = await Backend.RetrieveAsync(Aor.Type, "alice");
        var auth = await Backend.RetrieveAsync(Auth.Type, "alice");
        Assert.Multiple(() =>
        {
            Assert.That(endpoint, Is.TypeOf<Endpoint>());
            Assert.That(aor, Is.TypeOf<Aor>());
            Assert.That(auth, Is.TypeOf<Auth>());
        });
    }

    [Test]
    public async Task Retrieve_by_field_finds_every_match_in_id_order()
    {
        var sales = await Backend.RetrieveByFieldAsync(Endpoint.Type, "context", "sales");
        Assert.That(sales.Select(o => o.Id), Is.EqualTo(new[] { "alice", "bob" }));
        var aliceAor = await Backend.RetrieveByFieldAsync(Endpoint.Type, "aors", "alice");
        Assert.That(aliceAor.Select(o => o.Id), Is.EqualTo(new[] { "alice" }));
        var identify = await Backend.RetrieveByFieldAsync(Identify.Type, "endpoint", "bob");
        Assert.That(identify.Select(o => o.Id), Is.EqualTo(new[] { "trunk" }));
        Assert.That(await Backend.RetrieveByFieldAsync(Endpoint.Type, "context", "nowhere"), Is.Empty);
    }

    [Test]
    public async Task Retrieve_by_field_compares_defaults_and_canonical_values()
    {
        var (field, value) = Endpoint.Type.CanonicalizeField("direct_media", "true");
        var directMedia = await Backend.RetrieveByFieldAsync(Endpoint.Type, field, value);
        Assert.That(directMedia.Select(o => o.Id), Is.EqualTo(new[] { "bob", "carol" }), "bob and carol keep the default direct_media=yes");
    }

    [Test]
    public async Task Retrieve_by_repeated_field_matches_any_line()
    {
        var denyAll = await Backend.RetrieveByFieldAsync(Acl.Type, "deny", "0.0.0.0/0");
        var permitLan = await Backend.RetrieveByFieldAsync(Acl.Type, "permit", "192.168.0.0/16");
        Assert.Multiple(() =>
        {
            Assert.That(denyAll.Select(o => o.Id), Is.EqualTo(new[] { "office" }));
            Assert.That(permitLan.Select(o => o.Id), Is.EqualTo(new[] { "office" }));
        });
    }

    [Test]
    public async Task Retrieve_by_prefix_and_all_are_ordered_by_id()
    {
        var prefixed = await Backend.RetrieveByPrefixAsync(Endpoint.Type, "b");
        Assert.That(prefixed.Select(o => o.Id), Is.EqualTo(new[] { "bob" }));
        var all = await Backend.RetrieveAllAsync(Endpoint.Type);
        Assert.That(all.Select(o => o.Id), Is.EqualTo(new[] { "alice", "bob", "carol" }));
        Assert.That(await Backend.RetrieveByPrefixAsync(Endpoint.Type, "z"), Is.Empty);
        Assert.That(await Backend.RetrieveAllAsync(Registration.Type), Has.Count.EqualTo(1));
    }

    [Test]
    public void A_cancelled_token_cancels_reads_and_writes()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), async () => await Backend.RetrieveAsync(Endpoint.Type, "alice", cancelled.Token));
        Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), async () => await Backend.RetrieveAllAsync(Endpoint.Type, cancelled.Token));
        if (Writable)
            Assert.ThrowsAsync(Is.InstanceOf<OperationCanceledException>(), async () => await Backend.UpsertAsync(new Endpoint("dave"), cancelled.Token));
    }

    [Test]
    public async Task Create_stores_a_new_object_or_is_refused_by_a_read_only_backend()
    {
        var dave = new Endpoint("dave") { Context = "sales", Aors = ["dave"] };
        if (!Writable)
        {
            var refused = Assert.ThrowsAsync<ReadOnlyBackendException>(async () => await Backend.CreateAsync(dave));
            Assert.That(refused!.Message, Does.Contain("read-only").And.Contain("endpoint 'dave'").And.Contain(Backend.Name));
            Assert.ThrowsAsync<ReadOnlyBackendException>(async () => await Backend.UpdateAsync(Samples.Bob));
            Assert.ThrowsAsync<ReadOnlyBackendException>(async () => await Backend.UpsertAsync(Samples.Bob));
            Assert.ThrowsAsync<ReadOnlyBackendException>(async () => await Backend.DeleteAsync(Endpoint.Type, "bob"));
            return;
        }
        await Backend.CreateAsync(dave);
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "dave"), Is.EqualTo(dave));
        Assert.That((await Backend.RetrieveByFieldAsync(Endpoint.Type, "context", "sales")).Select(o => o.Id), Is.EqualTo(new[] { "alice", "bob", "dave" }));
    }

    [Test]
    public void Create_of_a_taken_id_throws()
    {
        if (!Writable)
        {
            AssertWritesRefused();
            return;
        }
        var error = Assert.ThrowsAsync<DuplicateObjectException>(async () => await Backend.CreateAsync(new Endpoint("alice")));
        Assert.That(error!.Message, Does.Contain("endpoint 'alice' already exists"));
    }

    [Test]
    public async Task Update_replaces_every_field()
    {
        if (!Writable)
        {
            AssertWritesRefused();
            return;
        }
        var changed = Samples.Alice with { Context = "support", Allow = ["opus"], AclRules = default, IdentifyBy = [] };
        await Backend.UpdateAsync(changed);
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "alice"), Is.EqualTo(changed));
        Assert.That((await Backend.RetrieveByFieldAsync(Endpoint.Type, "context", "sales")).Select(o => o.Id), Is.EqualTo(new[] { "bob" }));
        Assert.ThrowsAsync<ObjectNotFoundException>(async () => await Backend.UpdateAsync(new Endpoint("nobody")));
    }

    [Test]
    public async Task Upsert_creates_then_updates()
    {
        if (!Writable)
        {
            AssertWritesRefused();
            return;
        }
        Assert.That(await Backend.UpsertAsync(new Endpoint("erin") { Context = "a" }), Is.True);
        Assert.That(await Backend.UpsertAsync(new Endpoint("erin") { Context = "b" }), Is.False);
        Assert.That(((Endpoint?)await Backend.RetrieveAsync(Endpoint.Type, "erin"))?.Context, Is.EqualTo("b"));
    }

    [Test]
    public async Task Delete_removes_only_that_object()
    {
        if (!Writable)
        {
            AssertWritesRefused();
            return;
        }
        Assert.That(await Backend.DeleteAsync(Endpoint.Type, "alice"), Is.True);
        Assert.That(await Backend.DeleteAsync(Endpoint.Type, "alice"), Is.False);
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "alice"), Is.Null);
        Assert.That(await Backend.RetrieveAsync(Aor.Type, "alice"), Is.Not.Null);
        Assert.That(await Backend.RetrieveByFieldAsync(Endpoint.Type, "aors", "alice"), Is.Empty);
    }

    [Test]
    public async Task Contacts_of_an_aor_are_a_prefix_query()
    {
        if (!Backend.Supports(Contact.Type))
        {
            Assert.That(Backend.IsReadOnly, Is.True, "only configuration sources may refuse contacts");
            Assert.That(await Backend.RetrieveAllAsync(Contact.Type), Is.Empty);
            return;
        }
        for (var i = 0; i < 3; i++)
            await Backend.CreateAsync(Samples.ContactOf("alice", i));
        await Backend.CreateAsync(Samples.ContactOf("alice2", 0));
        var contacts = await Backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("alice"));
        Assert.That(contacts.Cast<Contact>().Select(c => c.Aor), Is.EqualTo(new[] { "alice", "alice", "alice" }));
        Assert.That(contacts[0], Is.EqualTo(Samples.ContactOf("alice", 0)).Or.EqualTo(Samples.ContactOf("alice", 1)).Or.EqualTo(Samples.ContactOf("alice", 2)));
        var byAor = await Backend.RetrieveByFieldAsync(Contact.Type, "aor", "alice2");
        Assert.That(byAor, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Concurrent_upserts_all_land()
    {
        if (!Writable)
        {
            AssertWritesRefused();
            return;
        }
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Backend.UpsertAsync(Samples.ContactOf("bulk", i)).AsTask()));
        Assert.That(await Backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("bulk")), Has.Count.EqualTo(40));
    }

    [Test]
    public async Task Write_batch_applies_writes_in_order_and_reports_each()
    {
        var changedBob = Samples.Bob with { Context = "support" };
        var fresh = new Endpoint("frank") { Context = "one" };
        ObjectWrite[] batch =
        [
            ObjectWrite.Upsert(fresh),
            ObjectWrite.Upsert(changedBob),
            ObjectWrite.Delete(Endpoint.Type, "alice"),
            ObjectWrite.Delete(Endpoint.Type, "nobody"),
            ObjectWrite.Upsert(fresh with { Context = "two" }),
            ObjectWrite.Delete(Samples.Carol),
        ];
        if (!Writable)
        {
            Assert.ThrowsAsync<ReadOnlyBackendException>(async () => await Backend.WriteBatchAsync(batch));
            Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "alice"), Is.EqualTo(Samples.Alice), "nothing was written");
            return;
        }
        var results = await Backend.WriteBatchAsync(batch);
        Assert.That(results, Is.EqualTo(new ChangeKind?[] { ChangeKind.Created, ChangeKind.Updated, ChangeKind.Deleted, null, ChangeKind.Updated, ChangeKind.Deleted }));
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "frank"), Is.EqualTo(fresh with { Context = "two" }), "the later write of an id wins");
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "bob"), Is.EqualTo(changedBob));
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "alice"), Is.Null);
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "carol"), Is.Null);
        Assert.That((await Backend.RetrieveByFieldAsync(Endpoint.Type, "context", "support")).Select(o => o.Id), Is.EqualTo(new[] { "bob" }));
    }

    [Test]
    public async Task Write_batch_of_nothing_does_nothing_and_a_default_write_is_refused()
    {
        if (Writable)
            Assert.That(await Backend.WriteBatchAsync([]), Is.Empty);
        Assert.ThrowsAsync<ArgumentException>(async () => await Backend.WriteBatchAsync([default]));
        Assert.That(await Backend.RetrieveAsync(Endpoint.Type, "alice"), Is.EqualTo(Samples.Alice));
    }

    [Test]
    public async Task Write_batch_of_many_contacts_and_concurrent_batches_all_land()
    {
        if (!Writable)
        {
            AssertWritesRefused();
            return;
        }
        var first = Enumerable.Range(0, 200).Select(i => ObjectWrite.Upsert(Samples.ContactOf("batch", i))).ToList();
        Assert.That(await Backend.WriteBatchAsync(first), Has.All.EqualTo(ChangeKind.Created));
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Backend.WriteBatchAsync(
            Enumerable.Range(0, 25).Select(i => ObjectWrite.Upsert(Samples.ContactOf("batch", 200 + t * 25 + i) with { UserAgent = "b" })).ToList()).AsTask()));
        var stored = await Backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("batch"));
        Assert.That(stored, Has.Count.EqualTo(400));
        Assert.That(stored, Does.Contain(Samples.ContactOf("batch", 7)));
        Assert.That(stored, Does.Contain(Samples.ContactOf("batch", 399) with { UserAgent = "b" }));
    }
}
