using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using PjSharp.Server.Tests.Qualify;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.WebSocket;

/// <summary>SIP over WebSocket (RFC 7118) through a real <c>pjsharp serve --transport ws:...</c>, on loopback.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class WebSocketTransportTests
{
    private static readonly Dictionary<string, string?> Limits = new()
    {
        ["PJSHARP__PjSharp__WebSocket__MaxConnectionsPerAddress"] = "3",
        ["PJSHARP__PjSharp__WebSocket__MaxFrameBytes"] = "3000",
        ["PJSHARP__PjSharp__WebSocket__AllowedOrigins__0"] = "https://phone.example",
    };

    private static Task<RegistrarTestServer> StartAsync(string aorOptions = "") =>
        RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(aorOptions), Limits, "--transport", "ws:127.0.0.1:0");

    private static IPEndPoint Ws(RegistrarTestServer server) => server.Process.Endpoint("ws").EndPoint;

    private static string Contacts(RegistrarTestServer server) => ServeQualifyTests.Show(server.ConfigFile, server.Database).Output;

    private static async Task<string> WaitForContactsAsync(RegistrarTestServer server, Func<string, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        var output = Contacts(server);
        while (!condition(output) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            output = Contacts(server);
        }
        return output;
    }

    [Test]
    public async Task Options_over_websocket_gets_200_with_a_ws_via()
    {
        await using var server = await StartAsync();
        await using var client = await WsSipClient.ConnectAsync(Ws(server));

        var answer = await client.OptionsAsync();

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer + server.Output);
        Assert.That(SipWire.HeaderValues(answer, "Via")[0], Does.StartWith("SIP/2.0/WS " + client.Host).And.Contain("received=127.0.0.1"));
    }

    [Test]
    public async Task Register_with_digest_binds_the_connection_and_closing_it_removes_the_binding()
    {
        await using var server = await StartAsync();
        var client = await WsSipClient.ConnectAsync(Ws(server));
        try
        {
            var answer = await client.RegisterAsync("alice", "secret-alice");

            Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer + server.Output);
            var contact = SipWire.HeaderValues(answer, "Contact").Single();
            Assert.That(contact, Does.Match(@"^<sip:alice@127\.0\.0\.1:\d+;transport=ws>;expires=\d+$"), "the .invalid host is replaced by the connection's address");
            var listed = await WaitForContactsAsync(server, o => o.Contains("transport=ws", StringComparison.Ordinal));
            Assert.That(listed, Does.Contain("sip:alice@127.0.0.1:").And.Contain("transport=ws"));
        }
        finally
        {
            await client.DisposeAsync();
        }

        var after = await WaitForContactsAsync(server, o => !o.Contains("transport=ws", StringComparison.Ordinal));
        Assert.That(after, Does.Not.Contain("transport=ws"), "the binding goes with its connection\n" + server.Output);
    }

    [Test]
    public async Task Closing_one_of_two_connections_removes_only_the_binding_made_over_it()
    {
        await using var server = await StartAsync();
        await using var kept = await WsSipClient.ConnectAsync(Ws(server));
        var closed = await WsSipClient.ConnectAsync(Ws(server));
        string closedContact;
        try
        {
            var keptAnswer = await kept.RegisterAsync("alice", "secret-alice");
            Assert.That(SipWire.StatusOf(keptAnswer), Is.EqualTo(200), server.Output);
            var answer = await closed.RegisterAsync("alice", "secret-alice");
            Assert.That(SipWire.HeaderValues(answer, "Contact"), Has.Count.EqualTo(2), "two tabs, two bindings");
            var keptUri = SipWire.HeaderValues(keptAnswer, "Contact").Single()[1..].Split('>')[0];
            closedContact = SipWire.HeaderValues(answer, "Contact").Select(c => c[1..].Split('>')[0]).Single(u => u != keptUri);
            var contact = closedContact;
            Assert.That(await WaitForContactsAsync(server, o => o.Contains(contact, StringComparison.Ordinal)), Does.Contain(closedContact));
        }
        finally
        {
            await closed.DisposeAsync();
        }

        var after = await WaitForContactsAsync(server, o => !o.Contains(closedContact, StringComparison.Ordinal));
        Assert.That(after, Does.Not.Contain(closedContact), server.Output);
        Assert.That(after, Does.Contain("transport=ws"), "the other connection's binding stays");
        Assert.That(SipWire.StatusOf(await kept.OptionsAsync()), Is.EqualTo(200));
    }

    [Test]
    public async Task A_request_to_the_registered_ws_contact_arrives_on_its_socket()
    {
        await using var server = await StartAsync("qualify_frequency=1\nqualify_timeout=2");
        await using var client = await WsSipClient.ConnectAsync(Ws(server));
        Assert.That(SipWire.StatusOf(await client.RegisterAsync("bob", "secret-bob")), Is.EqualTo(200), server.Output);

        var qualify = await client.ReceiveAsync(m => m.StartsWith("OPTIONS ", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        Assert.That(qualify, Is.Not.Null, "the qualify OPTIONS reaches the browser over its WebSocket\n" + server.Output);
        Assert.That(qualify, Does.StartWith("OPTIONS sip:bob@127.0.0.1:").And.Contain(";transport=ws SIP/2.0"));
        Assert.That(SipWire.HeaderValues(qualify, "Via")[0], Does.StartWith("SIP/2.0/WS "));
        await client.AnswerAsync(qualify!);
    }

    [Test]
    public async Task A_message_from_one_browser_reaches_another_over_its_socket()
    {
        await using var server = await StartAsync();
        await using var bob = await WsSipClient.ConnectAsync(Ws(server));
        await using var alice = await WsSipClient.ConnectAsync(Ws(server));
        Assert.That(SipWire.StatusOf(await bob.RegisterAsync("bob", "secret-bob")), Is.EqualTo(200), server.Output);

        var sending = alice.MessageAsync("alice", "secret-alice", "bob", "hello over websocket");
        var message = await bob.ReceiveAsync(m => m.StartsWith("MESSAGE ", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        Assert.That(message, Is.Not.Null, "bob's browser gets the MESSAGE on its socket\n" + server.Output);
        Assert.That(message, Does.StartWith("MESSAGE sip:bob@127.0.0.1:").And.EndWith("hello over websocket"));
        await bob.AnswerAsync(message!);
        Assert.That(SipWire.StatusOf(await sending), Is.EqualTo(200), server.Output);
    }

    [Test]
    public async Task An_idle_connection_is_closed_and_its_binding_removed()
    {
        var limits = new Dictionary<string, string?>(Limits) { ["PJSHARP__PjSharp__WebSocket__IdleTimeout"] = "00:00:01" };
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(), limits, "--transport", "ws:127.0.0.1:0");
        await using var client = await WsSipClient.ConnectAsync(Ws(server));
        Assert.That(SipWire.StatusOf(await client.RegisterAsync("alice", "secret-alice")), Is.EqualTo(200), server.Output);

        await client.WaitClosedAsync(TimeSpan.FromSeconds(10));

        Assert.That(client.CloseStatus, Is.EqualTo(WebSocketCloseStatus.NormalClosure));
        var after = await WaitForContactsAsync(server, o => !o.Contains("transport=ws", StringComparison.Ordinal));
        Assert.That(after, Does.Not.Contain("transport=ws"), server.Output);
    }

    [Test]
    public async Task A_call_through_the_bridge_rings_the_browser_over_its_socket()
    {
        SipTestServer.RequireSipp();
        await using var server = await StartAsync();
        await using var bob = await WsSipClient.ConnectAsync(Ws(server));
        Assert.That(SipWire.StatusOf(await bob.RegisterAsync("bob", "secret-bob")), Is.EqualTo(200), server.Output);
        using var rejected = PjSharp.Server.Tests.Sessions.SippScenario.Load("bridge-caller-rejected-uac.xml").Replace("\"STATUS\"", "\"486\"");

        var caller = PjSharp.Testing.Sipp.SippRunner.RunAsync(new PjSharp.Testing.Sipp.SippOptions
        {
            Scenario = rejected.Path,
            Target = $"127.0.0.1:{server.Udp.Port}",
            Service = "bob",
            Timeout = TimeSpan.FromSeconds(30),
            TraceErrors = true,
            ExtraArguments = ["-au", "alice", "-ap", "secret-alice", "-key", "caller", "alice", "-key", "rtp_port", "4000"],
        });
        var invite = await bob.ReceiveAsync(m => m.StartsWith("INVITE ", StringComparison.Ordinal), TimeSpan.FromSeconds(15));

        Assert.That(invite, Is.Not.Null, "the bridged INVITE reaches the browser over its WebSocket\n" + server.Output);
        Assert.That(invite, Does.StartWith("INVITE sip:bob@127.0.0.1:").And.Contain(";transport=ws SIP/2.0"));
        Assert.That(SipWire.HeaderValues(invite, "Via")[0], Does.StartWith("SIP/2.0/WS "));
        await bob.AnswerAsync(invite!, 486);
        var result = await caller;
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe() + server.Output);
        Assert.That(await bob.ReceiveAsync(m => m.StartsWith("ACK ", StringComparison.Ordinal)), Is.Not.Null, "the 486 is acknowledged over the socket");
    }

    [Test]
    public async Task Ipv6_connections_register_and_are_reached_at_their_bracketed_address()
    {
        if (!Socket.OSSupportsIPv6)
            Assert.Inconclusive("no IPv6 here");
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones("qualify_frequency=1\nqualify_timeout=2"), Limits,
            "--transport", "ws:[::1]:0");
        await using var client = await WsSipClient.ConnectAsync(server.Process.Endpoint("ws", AddressFamily.InterNetworkV6).EndPoint);

        var answer = await client.RegisterAsync("alice", "secret-alice");

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer + server.Output);
        Assert.That(SipWire.HeaderValues(answer, "Contact").Single(), Does.Match(@"^<sip:alice@\[::1\]:\d+;transport=ws>"));
        var qualify = await client.ReceiveAsync(m => m.StartsWith("OPTIONS ", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.That(qualify, Does.StartWith("OPTIONS sip:alice@[::1]:"), server.Output);
    }

    [Test]
    public async Task Sigterm_with_open_connections_closes_them_and_stops_in_time()
    {
        await using var server = await StartAsync();
        await using var client = await WsSipClient.ConnectAsync(Ws(server));
        Assert.That(SipWire.StatusOf(await client.RegisterAsync("alice", "secret-alice")), Is.EqualTo(200), server.Output);

        var stop = await server.Process.StopAsync(TimeSpan.FromSeconds(15));

        Assert.That(stop.ExitedInTime, Is.True, server.Output);
        Assert.That(stop.ExitCode, Is.Zero, server.Output);
        await client.WaitClosedAsync();
        Assert.That(client.State, Is.Not.EqualTo(WebSocketState.Open));
    }

    [Test]
    public async Task A_malformed_frame_is_dropped_and_the_connection_keeps_serving()
    {
        await using var server = await StartAsync();
        await using var client = await WsSipClient.ConnectAsync(Ws(server));

        await client.SendAsync("this is not SIP\r\n\r\n");
        await client.SendAsync("OPTIONS sip:nobody SIP/2.0\r\nContent-Length: 0\r\n\r\n");
        var answer = await client.OptionsAsync();

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), server.Output);
        Assert.That(client.State, Is.EqualTo(WebSocketState.Open));
    }

    [Test]
    public async Task An_oversized_frame_closes_that_connection_only_with_1009()
    {
        await using var server = await StartAsync();
        await using var other = await WsSipClient.ConnectAsync(Ws(server));
        await using var client = await WsSipClient.ConnectAsync(Ws(server));

        await client.SendAsync(client.Request("OPTIONS", client.ServerUri, $"sip:probe@{client.Host}", client.ServerUri,
            headers: [$"X-Padding: {new string('x', 4000)}"]));
        await client.WaitClosedAsync();

        Assert.That(client.CloseStatus, Is.EqualTo(WebSocketCloseStatus.MessageTooBig));
        Assert.That(SipWire.StatusOf(await other.OptionsAsync()), Is.EqualTo(200), server.Output);
    }

    [Test]
    public async Task Connections_past_the_per_address_limit_are_refused_while_another_address_connects()
    {
        await using var server = await StartAsync();
        var clients = new List<WsSipClient>();
        try
        {
            for (var i = 0; i < 3; i++)
                clients.Add(await WsSipClient.ConnectAsync(Ws(server)));

            var refused = Assert.ThrowsAsync<WebSocketException>(() => WsSipClient.ConnectAsync(Ws(server)));
            Assert.That(refused!.Message, Does.Contain("503"));

            if (!CanBind(IPAddress.Parse("127.0.0.2")))
                Assert.Inconclusive("127.0.0.2 is not bindable here");
            await using var second = await WsSipClient.ConnectAsync(Ws(server), local: IPAddress.Parse("127.0.0.2"));
            Assert.That(SipWire.StatusOf(await second.OptionsAsync()), Is.EqualTo(200), server.Output);
        }
        finally
        {
            foreach (var client in clients)
                await client.DisposeAsync();
        }
    }

    [Test]
    public async Task A_closed_connection_frees_its_place_under_the_limit()
    {
        await using var server = await StartAsync();
        for (var i = 0; i < 6; i++)
        {
            await using var client = await WsSipClient.ConnectAsync(Ws(server));
            Assert.That(SipWire.StatusOf(await client.OptionsAsync()), Is.EqualTo(200), server.Output);
        }
    }

    [TestCase("chat", null, "400")]
    [TestCase("sip", "https://evil.example", "403")]
    public async Task A_wrong_subprotocol_or_origin_is_refused(string subProtocol, string? origin, string status)
    {
        await using var server = await StartAsync();

        var refused = Assert.ThrowsAsync<WebSocketException>(() => WsSipClient.ConnectAsync(Ws(server), subProtocol, origin));

        Assert.That(refused!.Message, Does.Contain(status));
        await using var allowed = await WsSipClient.ConnectAsync(Ws(server), origin: "https://phone.example");
        Assert.That(SipWire.StatusOf(await allowed.OptionsAsync()), Is.EqualTo(200));
    }

    [Test]
    public async Task Wss_with_the_servers_tls_certificate_registers_and_answers()
    {
        using var certificate = PjSharp.Testing.Sipp.TlsTestCertificate.Create();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(), Limits,
            "--transport", "wss:127.0.0.1:0", "--tls-cert", certificate.ServerCertificateFile, "--tls-key", certificate.ServerKeyFile);
        await using var client = await WsSipClient.ConnectAsync(server.Process.Endpoint("wss").EndPoint, trustedAuthority: certificate.Authority);

        Assert.That(SipWire.StatusOf(await client.OptionsAsync()), Is.EqualTo(200), server.Output);
        var answer = await client.RegisterAsync("carol", "secret-carol");

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer + server.Output);
        Assert.That(SipWire.HeaderValues(answer, "Contact").Single(), Does.Contain(";transport=wss>"));
    }

    [Test]
    public async Task A_ws_transport_section_of_pjsip_conf_is_served()
    {
        var port = FreeTcpPort();
        var directory = Directory.CreateTempSubdirectory("pjsharp-ws-").FullName;
        try
        {
            var config = Path.Combine(directory, "pjsip.conf");
            await File.WriteAllTextAsync(config, RegistrarTestServer.Phones(more: $"[transport-ws]\ntype=transport\nprotocol=ws\nbind=127.0.0.1:{port}\n"));
            var options = SipTestServer.Locate().Serve(["--config", config, "--db", Path.Combine(directory, "pjsharp.db")]) with
            {
                ReadyTimeout = SipTestServer.ReadyTimeout,
                WorkingDirectory = directory,
            };
            await using var server = await PjSharp.Testing.Sipp.ServerProcess.StartAsync(options);

            Assert.That(server.Endpoint("ws").EndPoint, Is.EqualTo(new IPEndPoint(IPAddress.Loopback, port)));
            await using var client = await WsSipClient.ConnectAsync(server.Endpoint("ws").EndPoint);
            Assert.That(SipWire.StatusOf(await client.RegisterAsync("alice", "secret-alice")), Is.EqualTo(200), server.OutputTail(100));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool CanBind(IPAddress address)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(address, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
