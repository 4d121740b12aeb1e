using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Registrar;

/// <summary>What an attacker meets: ACLs, brute-force limits, bounded logs; and the SIP trace.</summary>
[CancelAfter(180_000)]
public sealed class SecurityTests
{
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");

    [Test]
    public async Task Source_denied_by_the_acl_gets_no_answer_while_others_do()
    {
        var config = RegistrarTestServer.Phones(more: """
            [block-attacker]
            type=acl
            deny=127.0.0.2/32
            """);
        await using var server = await RegistrarTestServer.StartAsync(config);
        using var denied = server.Phone("alice", local: Attacker);
        using var allowed = server.Phone("alice");

        Assert.That(await denied.SendAsync(denied.Register(), TimeSpan.FromSeconds(1)), Is.Null);
        Assert.That(SipWire.StatusOf(await allowed.RegisterAsync()), Is.EqualTo(200));
    }

    [Test]
    public async Task Endpoint_acl_denies_that_endpoint_from_other_addresses()
    {
        var config = RegistrarTestServer.Phones().Replace("[alice](phone)\nauth=alice", "[alice](phone)\ndeny=0.0.0.0/0\npermit=127.0.0.1/32\nauth=alice", StringComparison.Ordinal);
        Assert.That(config, Does.Contain("permit=127.0.0.1/32"));
        await using var server = await RegistrarTestServer.StartAsync(config);
        using var elsewhere = server.Phone("alice", local: Attacker);
        using var home = server.Phone("alice");

        Assert.That(await elsewhere.SendAsync(elsewhere.Register(), TimeSpan.FromSeconds(1)), Is.Null);
        Assert.That(SipWire.StatusOf(await home.RegisterAsync()), Is.EqualTo(200));
    }

    [Test]
    public async Task Brute_force_from_one_address_is_cut_off_while_other_users_register()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var attacker = server.Phone("alice", "guess", Attacker);
        var failures = 0;
        for (var attempt = 0; attempt < 40; attempt++)
        {
            var challenge = await attacker.SendAsync(attacker.Register(), TimeSpan.FromSeconds(1));
            if (challenge == null)
                break;
            var answer = await attacker.SendAsync(attacker.Register(authorization: attacker.Authorize(challenge)), TimeSpan.FromSeconds(1));
            if (SipWire.StatusOf(answer) == 401)
                failures++;
        }
        using var bob = server.Phone("bob");
        using var alice = server.Phone("alice");

        Assert.That(failures, Is.EqualTo(20), "the default limit is 20 failures in 10 s: after them no answer");
        Assert.That(await attacker.SendAsync(attacker.Register(), TimeSpan.FromSeconds(1)), Is.Null, "blocked for a minute");
        Assert.That(SipWire.StatusOf(await bob.RegisterAsync()), Is.EqualTo(200), "another user from another address");
        Assert.That(SipWire.StatusOf(await alice.RegisterAsync()), Is.EqualTo(200), "the attacked user from her own address");
        Assert.That(server.Output, Does.Contain("Authentication from 127.0.0.2 failed for alice"));
    }

    [Test]
    public async Task A_burst_of_malformed_requests_grows_the_log_by_a_bounded_amount()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        var before = server.Process.OutputSize;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(Attacker, 0));
        var random = new Random(7);
        const int burst = 20_000;
        for (var i = 0; i < burst; i++)
        {
            var request = Encoding.UTF8.GetBytes(
                $"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{((IPEndPoint)socket.LocalEndPoint!).Port};branch=z9hG4bK{i}\r\n" +
                $"From: \"\0\x1b[31m{i}\" <sip:user{i}@127.0.0.1>;tag={i}\r\nTo: <sip:user{i}@127.0.0.1>\r\nCall-ID: {i}\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n");
            // Corrupt a few bytes of most of them, the way a fuzzer does.
            if (i % 4 != 0)
            {
                for (var k = 0; k < 3; k++)
                    request[random.Next(request.Length)] = (byte)random.Next(256);
            }
            await socket.SendToAsync(request, SocketFlags.None, server.Udp);
            if (i % 500 == 0)
                await Task.Delay(5);
        }
        // Still serving.
        using var alice = server.Phone("alice");
        Assert.That(SipWire.StatusOf(await alice.RegisterAsync()), Is.EqualTo(200), server.Output);

        var after = server.Process.OutputSize;
        var lines = after.Lines - before.Lines;
        TestContext.Out.WriteLine($"{burst} bad requests wrote {lines} log lines, {after.Characters - before.Characters} characters");
        Assert.That(lines, Is.LessThan(100), server.Output);
        Assert.That(server.Output.Contains('\0', StringComparison.Ordinal), Is.False, "a NUL reached the log");
        Assert.That(server.Output.Contains('\x1b', StringComparison.Ordinal), Is.False, "an escape sequence reached the log");
    }

    [Test]
    public async Task Pcap_of_a_registration_opens_in_tshark()
    {
        var pcap = Path.Combine(Path.GetTempPath(), $"pjsharp-{Guid.NewGuid():N}.pcap");
        try
        {
            await using (var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(), "--pcap", pcap))
            {
                using var alice = server.Phone("alice");
                Assert.That(SipWire.StatusOf(await alice.RegisterAsync()), Is.EqualTo(200));
                Assert.That(server.Process.Signal(ProcessSignals.Terminate), Is.True);
                await server.Process.WaitForExitAsync();
            }
            var tshark = Process.Start(new ProcessStartInfo("tshark", ["-r", pcap, "-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = await tshark.StandardOutput.ReadToEndAsync();
            var errors = await tshark.StandardError.ReadToEndAsync();
            await tshark.WaitForExitAsync();
            Assert.That(tshark.ExitCode, Is.Zero, errors);
            var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.That(rows, Is.EqualTo(new[] { "REGISTER", "401", "REGISTER", "200" }), output);
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    [Test]
    public async Task Ten_thousand_users_register_with_digest_auth_through_sipp()
    {
        SipTestServer.RequireSipp();
        const int users = 10_000;
        var names = Enumerable.Range(0, users).Select(i => string.Create(CultureInfo.InvariantCulture, $"u{i:D5}")).ToArray();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(users: names));
        var injection = Path.Combine(server.Directory, "users.csv");
        await File.WriteAllLinesAsync(injection, ["SEQUENTIAL", .. names.Select(n => $"{n};[authentication username={n} password=secret-{n}];300")]);

        var result = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("register-auth-uac.xml"),
            Target = $"127.0.0.1:{server.Udp.Port}",
            MaxCalls = users,
            Rate = 1000,
            Timeout = TimeSpan.FromSeconds(90),
            TraceErrors = true,
            ExtraArguments = ["-inf", injection, "-l", "200"],
        });

        Assert.That(result.Successful, Is.EqualTo(users), result.ToString());
        await using var database = await PjSharp.DataAccess.Sqlite.SqliteBackend.OpenAsync(new() { Path = server.Database, MustExist = true });
        var stored = await database.RetrieveAllAsync(PjSharp.DataAccess.Contact.Type);
        Assert.That(stored, Has.Count.EqualTo(users));
    }
}
