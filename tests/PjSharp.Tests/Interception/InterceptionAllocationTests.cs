using System.Globalization;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Interception;
using PjSharp.Interception.Security;
using PjSharp.Interception.Stages;
using PjSharp.Interception.Trace;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception;

/// <summary>The interception stages run inline on pjsip's workers: they must not allocate per request.</summary>
[NonParallelizable]
public sealed class InterceptionAllocationTests
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(2);

    private static (TestEndpoint Server, SecurityEvents Events) Start()
    {
        var server = new TestEndpoint();
        var directory = SecurityDirectory.Create(
            [new Endpoint("alice") { Auth = [.. new[] { "alice" }], Aors = [.. new[] { "alice" }] }],
            [new Auth("alice") { Username = "alice", Password = "secret" }], [new Aor("alice") { MaxContacts = 1 }], [],
            [new Acl("office") { Rules = [new AclRule(AclAction.Permit, System.Net.IPNetwork.Parse("127.0.0.0/8"))] }]);
        var events = new SecurityEvents(server.LoggerFactory.CreateLogger("security"));
        var flood = new FloodProtection(new FloodProtectionOptions { MaxUnidentifiedRequests = int.MaxValue, MaxFailedAuthentications = int.MaxValue });
        var pipeline = new InterceptionPipeline(server.Endpoint, directory);
        pipeline.Add(new AclStage(events));
        pipeline.Add(new FloodStage(flood, events));
        pipeline.Add(new IdentifyStage(events));
        pipeline.Add(new AuthenticationStage(events, flood));
        server.Endpoint.RegisterService(pipeline);
        server.Endpoint.RegisterService(new SipTrace(server.LoggerFactory.CreateLogger("trace")));
        return (server, events);
    }

    private static string Register(RawSipClient client, string user, int cseq) =>
        $"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {client.Local.Address}:{client.Local.Port};branch=z9hG4bK{Guid.NewGuid():N}\r\n" +
        $"Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg-{user}\r\n" +
        $"CSeq: {cseq.ToString(CultureInfo.InvariantCulture)} REGISTER\r\nContact: <sip:{user}@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n";

    private static double BytesPerRequest(TestEndpoint server, Func<int, string> request, RawSipClient client, int expectedStatus)
    {
        for (var i = 0; i < 300; i++)
            Assert.That(client.Exchange(request(i), Answer, out var answer), Is.EqualTo(expectedStatus), answer);
        const int requests = 2000;
        var before = server.Endpoint.WorkerAllocatedBytes;
        for (var i = 0; i < requests; i++)
            Assert.That(client.Exchange(request(i), Answer, out _), Is.EqualTo(expectedStatus));
        return (double)(server.Endpoint.WorkerAllocatedBytes - before) / requests;
    }

    [Test]
    public void Options_from_an_unknown_user_through_every_stage_allocates_nothing()
    {
        var (server, events) = Start();
        using (server)
        using (events)
        {
            using var client = new RawSipClient(server.Udp);
            var perRequest = BytesPerRequest(server, _ => RawSipClient.Options(client.Local), client, 200);
            Assert.That(perRequest, Is.LessThan(1.0), $"{perRequest:0.0} bytes per request");
            Assert.That(events.Count(SecurityEventKind.InvalidEndpoint), Is.GreaterThanOrEqualTo(2300), "each request met the artificial endpoint");
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Counting_messages_on_the_meter_allocates_nothing_with_or_without_a_listener(bool listening)
    {
        var (server, events) = Start();
        using var meter = new System.Diagnostics.Metrics.Meter(PjSharp.Diagnostics.PjSharpMetrics.MeterName);
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        long counted = 0;
        server.Endpoint.RegisterService(new PjSharp.Diagnostics.SipMetrics(server.Endpoint, meter));
        if (listening)
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                    l.EnableMeasurementEvents(instrument);
            };
            listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref counted, value));
            listener.Start();
        }
        using (server)
        using (events)
        {
            using var client = new RawSipClient(server.Udp);
            var perRequest = BytesPerRequest(server, _ => RawSipClient.Options(client.Local), client, 200);
            Assert.That(perRequest, Is.LessThan(1.0), $"{perRequest:0.0} bytes per request");
            // Each exchange is one OPTIONS in and one 200 out.
            Assert.That(Interlocked.Read(ref counted), Is.EqualTo(listening ? 2 * 2300 : 0));
        }
    }

    /// <summary>Stands in for the registrar: answers what passed interception, allocating nothing itself.</summary>
    private sealed class AcceptRegister() : PjSharp.Services.SipService("accept-register", PjSharp.Services.SipServicePriority.Application)
    {
        public override bool OnRequest(SipRequest request)
        {
            if (request.Method != SipMethod.Register)
                return false;
            request.RespondStateless(200);
            return true;
        }
    }

    [Test]
    public void Verifying_good_credentials_allocates_nothing()
    {
        var (server, events) = Start();
        using (server)
        using (events)
        {
            server.Endpoint.RegisterService(new AcceptRegister());
            using var client = new RawSipClient(server.Udp);
            Assert.That(client.Exchange(Register(client, "alice", 1), Answer, out var challenge), Is.EqualTo(401));
            var header = challenge!.Split("\r\n").First(l => l.StartsWith("WWW-Authenticate:", StringComparison.Ordinal));
            var nonce = System.Text.RegularExpressions.Regex.Match(header, "nonce=\"([^\"]+)\"").Groups[1].Value;
            // Built before measuring: only the server's side is counted.
            var requests = Enumerable.Range(1, 2301).Select(nc =>
            {
                var authorization = PjSharp.Tests.Interception.Security.DigestClient.Authorization(DigestAlgorithm.Md5, "alice", "asterisk", "secret", nonce,
                    uri: "sip:127.0.0.1", nc: (uint)nc, cnonce: nc.ToString("x8", CultureInfo.InvariantCulture));
                return Register(client, "alice", nc + 1).Replace("Content-Length: 0", $"Authorization: {authorization}\r\nContent-Length: 0", StringComparison.Ordinal);
            }).ToArray();
            client.Exchange(requests[0], Answer, out var first);
            var status = RawSipClient.StatusOf(first);
            Assert.That(status, Is.EqualTo(200), first);
            var next = 1;
            var perRequest = BytesPerRequest(server, _ => requests[next++], client, status);
            Assert.That(perRequest, Is.LessThan(1.0), $"{perRequest:0.0} bytes per request");
            Assert.That(events.Count(SecurityEventKind.AuthenticationSucceeded), Is.GreaterThanOrEqualTo(2000));
        }
    }

    [TestCase("alice")]
    [TestCase("mallory")]
    public void Challenging_a_register_allocates_nothing(string user)
    {
        var (server, events) = Start();
        using (server)
        using (events)
        {
            using var client = new RawSipClient(server.Udp);
            var perRequest = BytesPerRequest(server, i => Register(client, user, i + 1), client, 401);
            Assert.That(perRequest, Is.LessThan(1.0), $"{perRequest:0.0} bytes per request");
            Assert.That(events.Count(SecurityEventKind.ChallengeSent), Is.GreaterThanOrEqualTo(2300));
        }
    }
}
