using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Cli;

/// <summary>
/// <c>pjsharp show --server</c> and <c>pjsharp trace</c> against a real <c>pjsharp serve</c> through its
/// admin socket, each command run as its own process with redirected output; SIPp registers and pings.
/// </summary>
[CancelAfter(120_000)]
public sealed class AdminEndpointTests
{
    private static readonly TimeSpan CommandLimit = TimeSpan.FromSeconds(30);

    private static string SocketOf(RegistrarTestServer server) => Path.Combine(server.Directory, "pjsharp.sock");

    private static async Task RegisterAsync(RegistrarTestServer server, params string[] users)
    {
        var injection = Path.Combine(server.Directory, "users.csv");
        await File.WriteAllLinesAsync(injection, ["SEQUENTIAL", .. users.Select(u => $"{u};[authentication username={u} password=secret-{u}];300")]);
        var result = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("register-auth-uac.xml"),
            Target = $"127.0.0.1:{server.Udp.Port}",
            MaxCalls = users.Length,
            Rate = 50,
            Timeout = TimeSpan.FromSeconds(20),
            TraceErrors = true,
            ExtraArguments = ["-inf", injection],
        });
        Assert.That(result.Successful, Is.EqualTo(users.Length), result.ToString());
    }

    /// <summary><c>show contacts --server</c> until the registrar's writes are in (they are group-committed).</summary>
    private static async Task<CliResult> ShowContactsAsync(RegistrarTestServer server, int rows, params string[] extra)
    {
        CliResult result;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        do
        {
            result = await CliProcess.RunAsync(CommandLimit, ["show", "contacts", "--server", SocketOf(server), .. extra]);
            Assert.That(result.ExitCode, Is.Zero, result.ToString());
        }
        while (result.Lines.Length < rows + 1 && extra.Length == 0 && DateTime.UtcNow < deadline && await Delay());
        return result;

        static async Task<bool> Delay()
        {
            await Task.Delay(200);
            return true;
        }
    }

    [Test]
    public async Task Show_contacts_from_the_running_server_prints_one_plain_row_per_registered_phone()
    {
        SipTestServer.RequireSipp();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        Assert.That(server.Output, Does.Contain("admin socket " + SocketOf(server)));
        await RegisterAsync(server, "alice", "bob", "carol");

        var result = await ShowContactsAsync(server, rows: 3);

        var lines = result.Lines;
        Assert.That(lines[0], Is.EqualTo("Contact\tAOR\tURI\tExpires\tUser agent\tStatus\tRTT"), "a header of column names, tab-separated");
        Assert.That(lines, Has.Length.EqualTo(4), result.ToString());
        var rows = lines.Skip(1).Select(l => l.Split('\t')).OrderBy(r => r[1], StringComparer.Ordinal).ToArray();
        Assert.That(rows.Select(r => r.Length), Is.All.EqualTo(7), "every row has every column, nothing wrapped");
        Assert.That(rows.Select(r => r[1]), Is.EqualTo(new[] { "alice", "bob", "carol" }));
        Assert.That(rows.Select(r => r[2]), Is.All.Match(@"^sip:(alice|bob|carol)@127\.0\.0\.1:\d+;transport=UDP$"));
        Assert.That(rows.Select(r => r[4]), Is.All.EqualTo("PjSharp tests (SIPp)"));
        Assert.That(result.Output, Does.Not.Contain("│").And.Not.Contain("─"), "no table borders on a pipe");
    }

    [Test]
    public async Task Show_with_format_json_prints_a_document_that_parses()
    {
        SipTestServer.RequireSipp();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        await RegisterAsync(server, "alice");
        await ShowContactsAsync(server, rows: 1);

        var result = await CliProcess.RunAsync(CommandLimit, "show", "contacts", "--server", SocketOf(server), "--format", "json");
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        using var document = JsonDocument.Parse(result.Output);
        var root = document.RootElement;
        Assert.That(root.GetProperty("title").GetString(), Is.EqualTo("Contacts"));
        var rows = root.GetProperty("rows").EnumerateArray().ToArray();
        Assert.That(rows, Has.Length.EqualTo(1));
        Assert.That(rows[0].GetProperty("AOR").GetString(), Is.EqualTo("alice"));
        Assert.That(rows[0].GetProperty("URI").GetString(), Does.StartWith("sip:alice@127.0.0.1:"));

        var endpoints = await CliProcess.RunAsync(CommandLimit, "show", "endpoints", "--server", SocketOf(server), "--format", "json");
        using var endpointDocument = JsonDocument.Parse(endpoints.Output);
        Assert.That(endpointDocument.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("Endpoint").GetString()),
            Is.EquivalentTo(new[] { "alice", "bob", "carol" }));
        var transports = await CliProcess.RunAsync(CommandLimit, "show", "transports", "--server", SocketOf(server));
        Assert.That(transports.Lines, Does.Contain(string.Create(CultureInfo.InvariantCulture, $"udp\t127.0.0.1\t{server.Udp.Port}")), "the transports bound now");
        var calls = await CliProcess.RunAsync(CommandLimit, "show", "calls", "--server", SocketOf(server));
        Assert.That(calls.Lines, Is.EqualTo(new[] { "Call-ID\tDirection\tEndpoint\tState\tTarget\tRemote" }), calls.ToString());
    }

    [Test]
    public async Task Ten_thousand_endpoints_print_as_plain_rows_in_well_under_a_second_of_formatting()
    {
        const int count = 10_000;
        var names = Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"u{i:D5}")).ToArray();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(users: names));

        // The first run warms the server's caches; the figure is the second.
        await CliProcess.RunAsync(CommandLimit, "show", "endpoints", "--server", SocketOf(server));
        var result = await CliProcess.RunAsync(CommandLimit, "show", "endpoints", "--server", SocketOf(server));
        var baseline = await CliProcess.RunAsync(CommandLimit, "show", "calls", "--server", SocketOf(server));
        var asTable = await CliProcess.RunAsync(CommandLimit, "show", "endpoints", "--server", SocketOf(server), "--format", "table");

        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(result.Lines, Has.Length.EqualTo(count + 1));
        Assert.That(result.Lines.Skip(1).Select(l => l.Split('\t')[0]).Order(StringComparer.Ordinal), Is.EqualTo(names));
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pjsharp show endpoints --server, {count} rows to a pipe: {result.Elapsed.TotalMilliseconds:0} ms for the whole process " +
            $"(an empty table takes {baseline.Elapsed.TotalMilliseconds:0} ms: process start and connection; " +
            $"the same rows as a Spectre table take {asTable.Elapsed.TotalMilliseconds:0} ms)"));
        Assert.That(result.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task Trace_prints_an_options_from_sipp_and_ends_cleanly_when_the_server_stops()
    {
        SipTestServer.RequireSipp();
        await using var server = await RegistrarTestServer.StartAsync(SipTestServer.OpenConfiguration);
        using var trace = CliProcess.Start("trace", "--server", SocketOf(server), "--method", "OPTIONS", "--address", "127.0.0.0/8");
        await trace.WaitForAsync(t => t.Error.Contains("tracing SIP messages", StringComparison.Ordinal), CommandLimit, "the trace starting");

        var result = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("options-uac.xml"),
            Target = $"127.0.0.1:{server.Udp.Port}",
            Service = "ping-me",
            Timeout = TimeSpan.FromSeconds(20),
            TraceErrors = true,
        });
        Assert.That(result.Successful, Is.EqualTo(1), result.ToString());
        await trace.WaitForAsync(t => t.Output.Contains("SIP/2.0 200", StringComparison.Ordinal), CommandLimit, "the 200 to the OPTIONS");

        var output = trace.Output;
        Assert.That(output, Does.Match(@"<--- \d\d:\d\d:\d\d\.\d{3} received over UDP from 127\.0\.0\.1:\d+ \(to 127\.0\.0\.1:\d+\)\nOPTIONS sip:ping-me@127\.0\.0\.1"));
        Assert.That(output, Does.Match(@"---> \d\d:\d\d:\d\d\.\d{3} sent over UDP to 127\.0\.0\.1:\d+ \(from 127\.0\.0\.1:\d+\)\nSIP/2\.0 200 OK"));
        Assert.That(output, Does.Contain("CSeq: 1 OPTIONS"));

        var stop = await server.Process.StopAsync(TimeSpan.FromSeconds(15));
        Assert.That(stop.ExitCode, Is.Zero);
        await trace.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.That(trace.Process.ExitCode, Is.Zero, trace.Error);
        Assert.That(trace.Error, Does.Contain("trace ended: server stopping"));
    }

    [Test]
    public async Task Trace_filters_leave_out_other_methods()
    {
        SipTestServer.RequireSipp();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var trace = CliProcess.Start("trace", "--server", SocketOf(server), "--method", "REGISTER", "--json");
        await trace.WaitForAsync(t => t.Error.Contains("tracing SIP messages", StringComparison.Ordinal), CommandLimit, "the trace starting");
        await SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("options-uac.xml"),
            Target = $"127.0.0.1:{server.Udp.Port}",
            Timeout = TimeSpan.FromSeconds(10),
        });
        await RegisterAsync(server, "bob");
        // REGISTER, 401, REGISTER, 200: the OPTIONS and its answer are not there.
        await trace.WaitForAsync(t => t.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 4, CommandLimit, "four REGISTER messages");
        var messages = trace.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("message")).ToArray();
        Assert.That(messages.Select(m => m.GetProperty("method").GetString()), Is.All.EqualTo("REGISTER"));
        Assert.That(messages.Select(m => m.GetProperty("direction").GetString()).Take(4), Is.EqualTo(new[] { "in", "out", "in", "out" }));
    }

    [Test]
    public async Task Show_blocked_lists_the_address_flood_protection_cut_off()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(),
            new Dictionary<string, string?> { ["PJSHARP__PjSharp__Security__MaxFailedAuthentications"] = "3" });
        using var attacker = server.Phone("alice", "guess", IPAddress.Parse("127.0.0.2"));
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var challenge = await attacker.SendAsync(attacker.Register(), TimeSpan.FromSeconds(1));
            if (challenge == null)
                break;
            await attacker.SendAsync(attacker.Register(authorization: attacker.Authorize(challenge)), TimeSpan.FromSeconds(1));
        }

        var result = await CliProcess.RunAsync(CommandLimit, "show", "blocked", "--server", SocketOf(server));
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.That(result.Lines, Has.Length.EqualTo(2), result.ToString());
        Assert.That(result.Lines[0], Is.EqualTo("Source\tReason\tUntil"));
        Assert.That(result.Lines[1], Does.Match(@"^127\.0\.0\.2\tfailed authentications\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"));
    }

    [Test]
    public async Task Admin_socket_is_for_the_servers_user_only()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("file modes are a Unix matter");
            return;
        }
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        var mode = File.GetUnixFileMode(SocketOf(server));
        Assert.That(mode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "mode 0600");
        await server.Process.StopAsync(TimeSpan.FromSeconds(15));
        Assert.That(File.Exists(SocketOf(server)), Is.False, "the socket goes with the server");
    }

    private static async Task<string> ExchangeAsync(string socketPath, byte[] request, bool close = false)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath));
        await using var stream = new NetworkStream(socket);
        await stream.WriteAsync(request);
        if (close)
            socket.Shutdown(SocketShutdown.Send);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        return await reader.ReadLineAsync(timeout.Token) ?? "";
    }

    [Test]
    public async Task Bad_requests_get_an_error_line_and_the_server_keeps_serving()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        var socket = SocketOf(server);

        Assert.That(await ExchangeAsync(socket, "hello there\n"u8.ToArray()), Does.StartWith("{\"error\":\"the request is not JSON"));
        Assert.That(await ExchangeAsync(socket, "{\"command\":\"reboot\"}\n"u8.ToArray()), Does.Contain("unknown command 'reboot'"));
        Assert.That(await ExchangeAsync(socket, "{\"command\":\"show\",\"kind\":\"gadgets\"}\n"u8.ToArray()), Does.Contain("unknown kind 'gadgets'"));
        Assert.That(await ExchangeAsync(socket, "[1,2,3]\n"u8.ToArray()), Does.Contain("must be a JSON object"));
        Assert.That(await ExchangeAsync(socket, "{\"command\":\"trace\",\"addresses\":[\"nowhere\"]}\n"u8.ToArray()), Does.Contain("'nowhere' is not an address"));
        Assert.That(await ExchangeAsync(socket, Encoding.ASCII.GetBytes(new string('x', 40_000))), Does.Contain("longer than"));
        Assert.That(await ExchangeAsync(socket, [0xff, 0xfe, 0x00, (byte)'\n']), Does.StartWith("{\"error\""));
        // Clients that leave at once, or half-way through a trace, hurt nobody.
        for (var i = 0; i < 20; i++)
        {
            using var quitter = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await quitter.ConnectAsync(new UnixDomainSocketEndPoint(socket));
            if (i % 2 == 0)
                await quitter.SendAsync("{\"command\":\"trace\"}\n"u8.ToArray());
        }

        var shown = await CliProcess.RunAsync(CommandLimit, "show", "endpoints", "--server", socket);
        Assert.That(shown.ExitCode, Is.Zero, shown.ToString());
        Assert.That(shown.Lines, Has.Length.EqualTo(4));
        Assert.That(server.Process.HasExited, Is.False);
        var missing = await CliProcess.RunAsync(CommandLimit, "show", "endpoints", "--server", Path.Combine(server.Directory, "none.sock"));
        Assert.That(missing.ExitCode, Is.Not.Zero);
        Assert.That(missing.Error, Does.Contain("no server admin socket at"));
    }

    [Test]
    public async Task More_clients_than_allowed_are_told_so_and_the_server_keeps_serving()
    {
        await using var server = await RegistrarTestServer.StartAsync(
            RegistrarTestServer.Phones(), new Dictionary<string, string?> { ["PJSHARP__PjSharp__Admin__MaxConnections"] = "2" });
        var socket = SocketOf(server);
        using var first = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var second = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await first.ConnectAsync(new UnixDomainSocketEndPoint(socket));
        await second.ConnectAsync(new UnixDomainSocketEndPoint(socket));
        // Both are served (their slots taken) once the server sees them; the third is refused.
        string refused = "";
        for (var attempt = 0; attempt < 50 && !refused.Contains("too many", StringComparison.Ordinal); attempt++)
        {
            refused = await ExchangeAsync(socket, "{\"command\":\"show\",\"kind\":\"endpoints\"}\n"u8.ToArray());
            await Task.Delay(50);
        }
        Assert.That(refused, Does.Contain("too many admin connections (at most 2)"));
        first.Close();
        second.Close();
        CliResult shown;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        do
            shown = await CliProcess.RunAsync(CommandLimit, "show", "endpoints", "--server", socket);
        while (shown.ExitCode != 0 && DateTime.UtcNow < deadline);
        Assert.That(shown.ExitCode, Is.Zero, shown.ToString());
    }
}
