using System.Text.Json;
using PjSharp.DataAccess.Tools;
using PjSharp.Hosting.Admin;
using PjSharp.Interception.Trace;
using PjSharp.Server.Commands;

namespace PjSharp.Server.Tests.Cli;

/// <summary>The output formats of <c>pjsharp show</c> and the admin endpoint's request parsing, without a server.</summary>
public sealed class CliFormatTests
{
    private static readonly ConfigTable s_table = new("Contacts", ["Contact", "URI"],
    [
        ["alice;@1", "sip:alice@192.0.2.1"],
        ["tab\there", "line\nbreak and back\\slash"],
    ]);

    [Test]
    public void Tsv_is_a_header_then_one_line_per_row_with_control_characters_escaped()
    {
        using var writer = new StringWriter();
        TableOutput.Write(s_table, "tsv", writer);
        Assert.That(writer.ToString(), Is.EqualTo("Contact\tURI\nalice;@1\tsip:alice@192.0.2.1\ntab\\there\tline\\nbreak and back\\\\slash\n"));
    }

    [Test]
    public void Json_has_title_columns_and_rows_by_column_name()
    {
        using var writer = new StringWriter();
        TableOutput.Write(s_table, "json", writer);
        using var document = JsonDocument.Parse(writer.ToString());
        var rows = document.RootElement.GetProperty("rows");
        Assert.That(document.RootElement.GetProperty("title").GetString(), Is.EqualTo("Contacts"));
        Assert.That(rows[1].GetProperty("URI").GetString(), Is.EqualTo("line\nbreak and back\\slash"));
    }

    [Test]
    public void Ten_thousand_rows_format_as_tsv_in_well_under_a_second()
    {
        var rows = Enumerable.Range(0, 10_000).Select(i => (IReadOnlyList<string>)[$"u{i:D5}", "-", $"u{i:D5}", "-", "default", "ulaw", "rfc4733", "username,ip"]).ToList();
        var table = new ConfigTable("Endpoints", ["Endpoint", "Transport", "AORs", "Auth", "Context", "Codecs", "DTMF", "Identify by"], rows);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var writer = new StringWriter();
        TableOutput.Write(table, "tsv", writer);
        clock.Stop();
        TestContext.Out.WriteLine($"10,000 rows as TSV: {clock.Elapsed.TotalMilliseconds:0.0} ms");
        Assert.That(writer.ToString().Count(c => c == '\n'), Is.EqualTo(10_001));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)));
    }

    [TestCase("{\"command\":\"show\",\"kind\":\"contacts\"}", typeof(ShowRequest))]
    [TestCase("{\"command\":\"show\",\"kind\":\"blocked\"}", typeof(ShowRequest))]
    [TestCase("{\"command\":\"trace\"}", typeof(TraceRequest))]
    [TestCase("{\"command\":\"trace\",\"addresses\":[\"10.0.0.0/8\",\"::1\"],\"method\":\"INVITE\",\"endpoints\":[\"alice\"]}", typeof(TraceRequest))]
    public void Requests_parse(string line, Type expected) => Assert.That(AdminProtocol.ParseRequest(line), Is.TypeOf(expected));

    [TestCase("", "not JSON")]
    [TestCase("{}", "no \"command\"")]
    [TestCase("{\"command\":42}", "must be a non-empty string")]
    [TestCase("{\"command\":\"show\"}", "show needs a \"kind\"")]
    [TestCase("{\"command\":\"trace\",\"endpoints\":\"alice\"}", "must be an array")]
    [TestCase("{\"command\":\"trace\",\"addresses\":[\"300.1.1.1\"]}", "is not an address")]
    public void Bad_requests_say_what_is_wrong(string line, string message) =>
        Assert.That(() => AdminProtocol.ParseRequest(line), Throws.TypeOf<AdminProtocolException>().With.Message.Contains(message));

    [TestCase("OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n", "OPTIONS")]
    [TestCase("SIP/2.0 200 OK\r\nVia: x\r\nCSeq: 102 INVITE\r\n\r\n", "INVITE")]
    [TestCase("SIP/2.0 401 Unauthorized\r\ncseq:2 REGISTER\r\n\r\n", "REGISTER")]
    [TestCase("SIP/2.0 200 OK\r\n\r\nCSeq: 1 BYE\r\n", "")]
    public void A_messages_method_is_the_request_line_or_the_responses_cseq(string message, string method) =>
        Assert.That(new SipTraceMessage(DateTimeOffset.UnixEpoch, true, "UDP", "a", "b", System.Text.Encoding.ASCII.GetBytes(message)).Method, Is.EqualTo(method));
}
