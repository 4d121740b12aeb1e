using Microsoft.Extensions.Logging;
using System.Globalization;
using System.Net;
using PjSharp.DataAccess;
using PjSharp.DataAccess.Tests.Support;
using PjSharp.Interception;
using PjSharp.Interception.Stages;
using PjSharp.Registrar;
using PjSharp.Servants;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Registrar;

/// <summary>The registrar on a real pjsip endpoint, with a database that can be held still.</summary>
[CancelAfter(30_000)]
public sealed class RegistrarServiceTests
{
    private static string Register(IPEndPoint local, int cseq) =>
        $"REGISTER sip:127.0.0.1 SIP/2.0\r\n" +
        $"Via: SIP/2.0/UDP {local.Address}:{local.Port};branch=z9hG4bK{Guid.NewGuid():N}\r\n" +
        "Max-Forwards: 70\r\n" +
        $"From: <sip:alice@127.0.0.1>;tag={Guid.NewGuid():N}\r\n" +
        "To: <sip:alice@127.0.0.1>\r\n" +
        $"Call-ID: {Guid.NewGuid():N}\r\n" +
        $"CSeq: {cseq.ToString(CultureInfo.InvariantCulture)} REGISTER\r\n" +
        $"Contact: <sip:alice@{local.Address}:{local.Port};n={cseq.ToString(CultureInfo.InvariantCulture)}>\r\n" +
        "Expires: 60\r\nContent-Length: 0\r\n\r\n";

    [Test]
    public async Task Full_aor_queue_answers_503_with_retry_after_at_once_and_queued_work_completes()
    {
        using var endpoint = new TestEndpoint(answerOptions: false);
        var directory = SecurityDirectory.Create([new Endpoint("alice") { Aors = [.. new[] { "alice" }] }], [], [new Aor("alice") { MaxContacts = 10 }], [], []);
        var interception = new InterceptionPipeline(endpoint.Endpoint, directory);
        using var events = new SecurityEvents(endpoint.LoggerFactory.CreateLogger("security"));
        interception.Add(new IdentifyStage(events));
        endpoint.Endpoint.RegisterService(interception);
        var gate = new GatedBackend(new MemoryBackend());
        await using var store = new ObjectStoreBuilder().AddBackend("db", gate).Map(Contact.Type, "db").Build();
        await using var writer = new ContactWriter(store);
        await using var servants = new ServantDispatcher<string>(new ServantOptions { Name = "registrar", MaxQueuedPerKey = 2 });
        await using var registrar = new RegistrarService(endpoint.Endpoint, interception, store, writer, servants);
        endpoint.Endpoint.RegisterService(registrar);
        gate.HoldNextBatch();

        using var first = new RawSipClient(endpoint.Udp);
        using var second = new RawSipClient(endpoint.Udp);
        using var third = new RawSipClient(endpoint.Udp);
        first.Send(Register(first.Local, 1));
        await gate.Held;
        second.Send(Register(second.Local, 2));
        await Task.Delay(100);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var rejected = third.Exchange(Register(third.Local, 3), TimeSpan.FromSeconds(2), out var rejection);

        Assert.That(rejected, Is.EqualTo(503), rejection);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "answered at once, not after the queue");
        Assert.That(rejection, Does.Contain("Retry-After: 5"));
        Assert.That(first.Receive(TimeSpan.FromMilliseconds(200)), Is.Null, "the first waits for its write");
        Assert.That(servants.Rejected, Is.EqualTo(1));

        gate.Release();
        Assert.That(RawSipClient.StatusOf(first.Receive(TimeSpan.FromSeconds(5))), Is.EqualTo(200));
        Assert.That(RawSipClient.StatusOf(second.Receive(TimeSpan.FromSeconds(5))), Is.EqualTo(200));
        Assert.That(await store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice")), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task A_failing_database_gets_503_and_nothing_is_acknowledged()
    {
        using var endpoint = new TestEndpoint(answerOptions: false);
        var directory = SecurityDirectory.Create([new Endpoint("alice") { Aors = [.. new[] { "alice" }] }], [], [new Aor("alice") { MaxContacts = 1 }], [], []);
        var interception = new InterceptionPipeline(endpoint.Endpoint, directory);
        using var events = new SecurityEvents(endpoint.LoggerFactory.CreateLogger("security"));
        interception.Add(new IdentifyStage(events));
        endpoint.Endpoint.RegisterService(interception);
        await using var store = new ObjectStoreBuilder().AddBackend("db", new DiskFullBackend()).Map(Contact.Type, "db").Build();
        await using var writer = new ContactWriter(store);
        await using var servants = new ServantDispatcher<string>(new ServantOptions { Name = "registrar" });
        await using var registrar = new RegistrarService(endpoint.Endpoint, interception, store, writer, servants,
            logger: endpoint.LoggerFactory.CreateLogger("registrar"));
        endpoint.Endpoint.RegisterService(registrar);

        using var phone = new RawSipClient(endpoint.Udp);
        var status = phone.Exchange(Register(phone.Local, 1), TimeSpan.FromSeconds(5), out var answer);

        Assert.That(status, Is.EqualTo(503), answer);
        Assert.That(endpoint.Logs.Entries.Any(e => e.Id.Id == 1205), Is.True, "the failure is logged");
    }

    /// <summary>Reads work; every write fails the way a full disk makes it fail.</summary>
    private sealed class DiskFullBackend : IObjectBackend
    {
        private readonly MemoryBackend _inner = new();

        public string Name => "disk full";

        public bool IsReadOnly => false;

        public event EventHandler<BackendChangedEventArgs>? Changed
        {
            add => _inner.Changed += value;
            remove => _inner.Changed -= value;
        }

        public bool Supports(ObjectType type) => _inner.Supports(type);

        public ValueTask<SipObject?> RetrieveAsync(ObjectType type, string id, CancellationToken cancellationToken = default) => _inner.RetrieveAsync(type, id, cancellationToken);

        public ValueTask<IReadOnlyList<SipObject>> RetrieveByFieldAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default) =>
            _inner.RetrieveByFieldAsync(type, field, value, cancellationToken);

        public ValueTask<IReadOnlyList<SipObject>> RetrieveByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default) =>
            _inner.RetrieveByPrefixAsync(type, idPrefix, cancellationToken);

        public ValueTask<IReadOnlyList<SipObject>> RetrieveAllAsync(ObjectType type, CancellationToken cancellationToken = default) => _inner.RetrieveAllAsync(type, cancellationToken);

        public ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default) => throw DiskFull();

        public ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default) => throw DiskFull();

        public ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default) => throw DiskFull();

        public ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default) => throw DiskFull();

        public ValueTask<IReadOnlyList<ChangeKind?>> WriteBatchAsync(IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken = default) => throw DiskFull();

        public ValueTask DisposeAsync() => _inner.DisposeAsync();

        private static IOException DiskFull() => new("No space left on device");
    }
}
