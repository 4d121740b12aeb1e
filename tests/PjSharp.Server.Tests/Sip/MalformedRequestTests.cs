using System.Net;

namespace PjSharp.Server.Tests.Sip;

/// <summary>
/// Broken requests on raw sockets: each gets its RFC 3261 answer (exact status code), and the server
/// answers a good OPTIONS afterwards.
/// </summary>
[TestFixture]
public sealed class MalformedRequestTests
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(3);

    // Where the right reaction may be to drop the request, we wait this long for an answer that does not come.
    private static readonly TimeSpan SilenceTimeout = TimeSpan.FromSeconds(1.5);

    /// <summary>One malformed request: how to break a good OPTIONS and which answers are right.</summary>
    public sealed record BrokenRequest(string Name, bool Tcp, Func<SipRequestText, SipRequestText> Break, int[] Accepted, bool MayDrop = false)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        static TestCaseData Data(BrokenRequest c) => new TestCaseData(c).SetArgDisplayNames(c.Name);

        yield return Data(new("header line without a colon -> 400", false, r => r.With("This line is not a header"), [400]));
        yield return Data(new("unparsable CSeq -> 400", false, r => r.Replace("CSeq", "CSeq: one OPTIONS"), [400]));
        yield return Data(new("Content-Length larger than the body -> 400", false, r =>
        {
            r.AutoContentLength = false;
            r.Headers.Add("Content-Type: text/plain");
            r.Headers.Add("Content-Length: 100");
            r.Body = "short";
            return r;
        }, [400]));
        yield return Data(new("two different Content-Length headers -> 400", false, r =>
        {
            r.AutoContentLength = false;
            r.Headers.Add("Content-Type: text/plain");
            r.Headers.Add("Content-Length: 5");
            r.Headers.Add("Content-Length: 6");
            r.Body = "hello";
            return r;
        }, [400]));
        yield return Data(new("missing Call-ID -> 400", false, r => r.Without("Call-ID"), [400]));
        yield return Data(new("missing CSeq -> 400", false, r => r.Without("CSeq"), [400]));
        yield return Data(new("missing From -> 400", false, r => r.Without("From"), [400]));
        yield return Data(new("missing To -> 400", false, r => r.Without("To"), [400]));
        // Responses are routed by the top Via (RFC 3261 §18.2.2): without one, dropping is right; a 400 back
        // on the same TCP connection would be too.
        yield return Data(new("missing Via over UDP -> 400 or drop", false, r => r.Without("Via"), [400], MayDrop: true));
        yield return Data(new("missing Via over TCP -> 400 or drop", true, r => r.Without("Via"), [400], MayDrop: true));
        yield return Data(new("SIP/3.0 -> 505", false, r =>
        {
            r.Version = "SIP/3.0";
            return r;
        }, [505]));
        yield return Data(new("xyz: request-URI -> 416", false, r =>
        {
            r.RequestUri = "xyz:ping@127.0.0.1";
            return r;
        }, [416]));
        yield return Data(new("Require: foo -> 420 with Unsupported: foo", false, r => r.With("Require: foo"), [420]));
        yield return Data(new("two From headers -> 400", false, r => r.With("From: <sip:other@127.0.0.1>;tag=x"), [400]));
        yield return Data(new("two Call-ID headers -> 400", false, r => r.With("Call-ID: another"), [400]));
        yield return Data(new("two CSeq headers -> 400", false, r => r.With("CSeq: 2 OPTIONS"), [400]));
        yield return Data(new("malformed From display name -> 400", false, r => r.Replace("From", "From: \"unterminated <sip:tester@127.0.0.1>;tag=1"), [400]));
        yield return Data(new("unknown method -> 501 or 405", false, r =>
        {
            r.Method = "FROBNICATE";
            r.Replace("CSeq", "CSeq: 1 FROBNICATE");
            return r;
        }, [501, 405]));
        // Past PJSIP_MAX_PKT_LEN (16384): 513, or dropped.
        yield return Data(new("oversize request over UDP -> 513 or drop", false, Oversize, [513], MayDrop: true));
        yield return Data(new("oversize request over TCP -> 513 or drop", true, Oversize, [513], MayDrop: true));
    }

    [TestCaseSource(nameof(Cases))]
    public async Task Malformed_request_gets_its_answer_and_the_server_keeps_answering(BrokenRequest malformed)
    {
        var server = SharedSipServer.Server;
        var target = server.Endpoint(malformed.Tcp ? "tcp" : "udp").EndPoint;
        var transport = malformed.Tcp ? "TCP" : "UDP";
        string? sent = null;
        byte[] Build(IPEndPoint local)
        {
            var request = malformed.Break(SipRequestText.Options(transport, local, target));
            sent = request.ToString();
            return request.ToBytes();
        }

        var timeout = malformed.MayDrop ? SilenceTimeout : AnswerTimeout;
        var answer = malformed.Tcp
            ? await SipWire.TcpAsync(target, Build, timeout)
            : await SipWire.UdpAsync(target, Build, timeout);
        var details = $"sent over {transport}:\n{Shorten(sent)}\n--- answer ---\n{answer}";

        SharedSipServer.AssertAlive(malformed.Name);
        if (malformed.MayDrop && answer.Message == null)
        {
            // Dropped (and, on TCP, maybe disconnected): acceptable for these cases.
        }
        else
        {
            Assert.That(answer.Status, Is.AnyOf(malformed.Accepted.Cast<object>().ToArray()), details);
        }
        if (answer.Status == 420)
            Assert.That(SipWire.HeaderValues(answer.Message, "Unsupported"), Does.Contain("foo"), details);

        var after = await GoodOptionsAsync(target, malformed.Tcp);
        Assert.That(after.Status, Is.EqualTo(200), $"a good OPTIONS over {transport} after \"{malformed.Name}\":\n{after}\n--- server output ---\n{server.OutputTail(30)}");
    }

    [Test]
    public async Task Good_options_over_udp_and_tcp_are_answered_200()
    {
        var server = SharedSipServer.Server;
        var udp = await GoodOptionsAsync(server.Endpoint("udp").EndPoint, tcp: false);
        var tcp = await GoodOptionsAsync(server.Endpoint("tcp").EndPoint, tcp: true);
        Assert.Multiple(() =>
        {
            Assert.That(udp.Status, Is.EqualTo(200), udp.ToString());
            Assert.That(tcp.Status, Is.EqualTo(200), tcp.ToString());
        });
    }

    private static Task<SipAnswer> GoodOptionsAsync(IPEndPoint target, bool tcp)
    {
        byte[] Build(IPEndPoint local) => SipRequestText.Options(tcp ? "TCP" : "UDP", local, target).ToBytes();
        return tcp ? SipWire.TcpAsync(target, Build, AnswerTimeout) : SipWire.UdpAsync(target, Build, AnswerTimeout);
    }

    private static SipRequestText Oversize(SipRequestText request)
    {
        request.Headers.Add("Content-Type: text/plain");
        request.Body = new string('x', 20000);
        return request;
    }

    private static string Shorten(string? text) =>
        text == null ? "" : text.Length <= 1500 ? text : text[..1500] + $"... ({text.Length} chars)";
}
