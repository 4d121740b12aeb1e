using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception;

/// <summary>Requests pjsip would drop get the answer RFC 3261 asks for, and the endpoint keeps serving.</summary>
public class MalformedRequestTests
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(2);
    private TestEndpoint _server = null!;

    [OneTimeSetUp]
    public void Start() => _server = new TestEndpoint(tcp: true);

    [OneTimeTearDown]
    public void Stop() => _server.Dispose();

    private static string Request(RawSipClient client, string startLine = "OPTIONS sip:ping@127.0.0.1 SIP/2.0", string? via = null,
        string? callId = "malformed-1", string? cseq = "1 OPTIONS", string? from = null, string extra = "", string contentLength = "Content-Length: 0\r\n", string body = "")
    {
        var local = client.Local;
        return $"{startLine}\r\n" +
            (via ?? $"Via: SIP/2.0/{client.Transport} {local.Address}:{local.Port};branch=z9hG4bK{Guid.NewGuid():N}\r\n") +
            "Max-Forwards: 70\r\n" +
            (from ?? $"From: <sip:tester@127.0.0.1>;tag=abc\r\n") +
            "To: <sip:ping@127.0.0.1>\r\n" +
            (callId == null ? "" : $"Call-ID: {callId}-{Guid.NewGuid():N}\r\n") +
            (cseq == null ? "" : $"CSeq: {cseq}\r\n") +
            extra + contentLength + "\r\n" + body;
    }

    /// <summary>Sends from the client whose address the request's Via names, so any answer reaches it.</summary>
    private void AssertAnswer(RawSipClient client, string text, int expected, string? contains = null)
    {
        var status = client.Exchange(text, Answer, out var response);
        Assert.That(status, Is.EqualTo(expected), response ?? "(no answer)");
        if (contains != null)
            Assert.That(response, Does.Contain(contains));
        using var after = new RawSipClient(_server.Udp);
        Assert.That(after.Exchange(RawSipClient.Options(after.Local), Answer, out _), Is.EqualTo(200), "the endpoint still answers OPTIONS");
    }

    private RawSipClient Probe(bool tcp = false) => new(tcp ? _server.Tcp : _server.Udp, tcp);

    [Test]
    public void Bad_sip_version_gets_505()
    {
        using var c = Probe();
        AssertAnswer(c, Request(c, "OPTIONS sip:ping@127.0.0.1 SIP/3.0"), 505);
    }

    [Test]
    public void Unknown_uri_scheme_gets_416()
    {
        using var c = Probe();
        AssertAnswer(c, Request(c, "OPTIONS xyz:ping@127.0.0.1 SIP/2.0"), 416);
    }

    [Test]
    public void Unsupported_require_gets_420_naming_the_extension()
    {
        using var c = Probe();
        AssertAnswer(c, Request(c, extra: "Require: foo\r\n"), 420, contains: "Unsupported: foo");
    }

    [Test]
    public void Duplicate_content_length_gets_400()
    {
        using var c = Probe();
        AssertAnswer(c, Request(c, contentLength: "Content-Type: text/plain\r\nContent-Length: 5\r\nContent-Length: 7\r\n", body: "hello"), 400);
    }

    [Test]
    public void Missing_call_id_gets_400()
    {
        using var c = Probe();
        AssertAnswer(c, Request(c, callId: null), 400);
    }

    [Test]
    public void Missing_cseq_gets_400()
    {
        using var c = Probe();
        AssertAnswer(c, Request(c, cseq: null), 400);
    }

    [Test]
    public void Broken_header_gets_400()
    {
        using var c = Probe();
        AssertAnswer(c, Request(c, cseq: "one OPTIONS"), 400);
    }

    [Test]
    public void Malformed_request_over_tcp_is_answered_on_the_connection()
    {
        using var c = Probe(tcp: true);
        AssertAnswer(c, Request(c, "OPTIONS sip:ping@127.0.0.1 SIP/3.0"), 505);
    }

    [Test]
    public void Request_without_via_is_dropped_without_answer()
    {
        using var client = Probe();
        var text = Request(client, via: "");
        Assert.That(client.Exchange(text, TimeSpan.FromMilliseconds(500), out var response), Is.EqualTo(0), response);
    }

    [Test]
    public void Lenient_reader_copies_the_headers_a_response_needs()
    {
        var raw = "OPTIONS sip:a@b SIP/3.0\r\nv: SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bKx\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\nCSeq: 7\r\n OPTIONS\r\n\r\n"u8;
        var request = PjSharp.Interception.RawRequest.Parse(raw);

        Assert.That(request.Diagnose(), Is.EqualTo((505, "Version Not Supported")));
        var response = System.Text.Encoding.UTF8.GetString(request.BuildResponse(505, "Version Not Supported"));
        Assert.That(response, Does.StartWith("SIP/2.0 505 Version Not Supported\r\n"));
        Assert.That(response, Does.Contain("Via: SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bKx\r\n").And.Contain("Call-ID: abc\r\n").And.Contain("CSeq: 7 OPTIONS\r\n"));
        Assert.That(response, Does.Contain("To: <sip:a@b>;tag="));
    }
}
