using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PjSharp.Server.Tests.Qualify;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Messaging;

/// <summary>
/// Out-of-dialog MESSAGE through a real <c>pjsharp serve</c>: phone A is SIPp with digest
/// authentication, phone B a registered UDP phone that reads what the server relays.
/// </summary>
[NonParallelizable]
[CancelAfter(90_000)]
public sealed class MessagingTests
{
    private const string ContentType = "text/plain;charset=UTF-8";
    private const string Body = "Hello bob; this is alice & <friends> 42";

    /// <summary>Runs phone A: MESSAGE to <paramref name="to"/>, challenged, sent again with alice's credentials; succeeds on <paramref name="status"/>.</summary>
    private static async Task<SippResult> SendAsAliceAsync(RegistrarTestServer server, string to, int status)
    {
        using var scenario = SippScenario.Load("message-auth-uac.xml")
            .Set("FROM", "alice").Set("PASSWORD", "secret-alice").Set("TO", to)
            .Set("CONTENT_TYPE", ContentType).Set("BODY", Body)
            .Set("STATUS", status.ToString(CultureInfo.InvariantCulture));
        return await SippRunner.RunAsync(new SippOptions
        {
            Scenario = scenario.Path,
            Target = $"127.0.0.1:{server.Udp.Port}",
            Timeout = TimeSpan.FromSeconds(20),
            TraceErrors = true,
        });
    }

    [Test]
    public async Task Message_to_a_registered_phone_arrives_intact_and_the_sender_gets_200_once_it_accepts()
    {
        SipTestServer.RequireSipp();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var bob = server.Phone("bob");
        Assert.That(SipWire.StatusOf(await bob.RegisterAsync()), Is.EqualTo(200));

        var alice = SendAsAliceAsync(server, "bob", 200);
        var message = await bob.ReceiveRequestAsync("MESSAGE", TimeSpan.FromSeconds(10));

        Assert.That(message, Is.Not.Null, $"bob got no MESSAGE\n{server.Output}");
        var text = message!.Value.Text;
        Assert.That(text, Does.StartWith($"MESSAGE {bob.ContactUri}"), "sent to bob's registered contact");
        Assert.That(SipWire.HeaderValues(text, "Content-Type", "c").Single().Replace(" ", "", StringComparison.Ordinal), Is.EqualTo(ContentType));
        Assert.That(text.Split("\r\n\r\n", 2)[1], Does.StartWith(Body), "the body, byte for byte");
        Assert.That(SipWire.HeaderValues(text, "From", "f").Single(), Does.Contain("sip:alice@"), "From is the sender");
        Assert.That(SipWire.HeaderValues(text, "To", "t").Single(), Does.Contain("sip:bob@"));
        // Bob takes his time: SIPp retransmits meanwhile, and the server's transaction absorbs it.
        await Task.Delay(1200);
        await bob.ReplyAsync(message.Value);

        var result = await alice;
        Assert.That(result.Successful, Is.EqualTo(1), $"{result.Describe()}\n{server.Output}");
        // Bob may see the relay's own retransmissions (same branch) while he waited, never a second relay.
        var branch = SipWire.HeaderValues(text, "Via", "v").Single();
        while (await bob.ReceiveRequestAsync("MESSAGE", TimeSpan.FromSeconds(1)) is { } again)
            Assert.That(SipWire.HeaderValues(again.Text, "Via", "v").Single(), Is.EqualTo(branch), "one relay only, whatever SIPp retransmitted");
    }

    [Test]
    public async Task A_refusal_by_the_contact_is_what_the_sender_gets()
    {
        SipTestServer.RequireSipp();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var bob = server.Phone("bob");
        Assert.That(SipWire.StatusOf(await bob.RegisterAsync()), Is.EqualTo(200));

        var alice = SendAsAliceAsync(server, "bob", 486);
        var message = await bob.ReceiveRequestAsync("MESSAGE", TimeSpan.FromSeconds(10));
        Assert.That(message, Is.Not.Null, $"bob got no MESSAGE\n{server.Output}");
        await bob.ReplyAsync(message!.Value, 486, "Busy Here");

        var result = await alice;
        Assert.That(result.Successful, Is.EqualTo(1), $"{result.Describe()}\n{server.Output}");
    }

    [Test]
    public async Task Message_to_an_aor_without_contacts_gets_480_and_to_an_unknown_user_404()
    {
        SipTestServer.RequireSipp();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());

        var unavailable = await SendAsAliceAsync(server, "carol", 480);
        Assert.That(unavailable.Successful, Is.EqualTo(1), $"carol has no contact: 480\n{unavailable.Describe()}\n{server.Output}");
        var unknown = await SendAsAliceAsync(server, "nobody", 404);
        Assert.That(unknown.Successful, Is.EqualTo(1), $"no AOR nobody: 404\n{unknown.Describe()}\n{server.Output}");
    }

    [Test]
    public async Task Message_to_an_aor_whose_only_contact_qualify_found_unreachable_gets_480_at_once()
    {
        SipTestServer.RequireSipp();
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var quiet = $"sip:dave@127.0.0.1:{((IPEndPoint)silent.LocalEndPoint!).Port}";
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(more: $"""
            [dave]
            type=aor
            contact={quiet}
            qualify_frequency=1
            qualify_timeout=0.5

            """));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (ServeQualifyTests.LineOf(ServeQualifyTests.Show(server.ConfigFile, server.Database).Output, quiet)?.Contains("Unreachable", StringComparison.Ordinal) != true)
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), $"dave's contact never became unreachable\n{server.Output}");
            await Task.Delay(100);
        }

        // Without qualify the relay would wait for the silent contact and answer 408.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await SendAsAliceAsync(server, "dave", 480);
        Assert.That(result.Successful, Is.EqualTo(1), $"{result.Describe()}\n{server.Output}");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
    }
}
