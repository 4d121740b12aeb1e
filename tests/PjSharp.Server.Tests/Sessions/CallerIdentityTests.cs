using System.Collections.Concurrent;
using PjSharp.DataAccess;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>The built-in caller identity extension: trust_id_inbound, send_pai, send_rpid.</summary>
public class CallerIdentityTests
{
    private const string Pai = "P-Asserted-Identity: \"Alice Example\" <sip:1001@example.com>";
    private const string Rpid = "Remote-Party-ID: \"Bob Example\" <sip:2002@example.com>;party=calling;screen=yes;privacy=off";

    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task A_trusted_endpoint_s_p_asserted_identity_is_the_remote_identity()
    {
        var (remote, seed) = await CallAndReadIdentityAsync(new Endpoint("trusted") { TrustIdInbound = true }, Pai + "\n      " + Rpid);
        Assert.That(remote, Is.EqualTo(new SessionIdentity("Alice Example", "1001", "sip:1001@example.com", IdentitySource.PAssertedIdentity)));
        Assert.That(seed, Is.EqualTo(remote), "GetIdentity() returns the same identity");
    }

    [Test]
    public async Task A_trusted_endpoint_s_remote_party_id_is_used_when_there_is_no_p_asserted_identity()
    {
        var (remote, _) = await CallAndReadIdentityAsync(new Endpoint("trusted") { TrustIdInbound = true }, Rpid);
        Assert.That(remote, Is.EqualTo(new SessionIdentity("Bob Example", "2002", "sip:2002@example.com", IdentitySource.RemotePartyId)));
    }

    [Test]
    public async Task Without_trust_the_remote_identity_is_the_from_header()
    {
        var (remote, seed) = await CallAndReadIdentityAsync(new Endpoint("untrusted"), Pai);
        Assert.That(remote.Source, Is.EqualTo(IdentitySource.From));
        Assert.That(remote.Name, Is.EqualTo("sipp"));
        Assert.That(remote.User, Is.EqualTo("sipp"));
        Assert.That(seed, Is.EqualTo(remote));
    }

    [Test]
    public async Task Send_pai_puts_the_configured_caller_id_in_the_200_to_an_incoming_invite()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo),
            new Endpoint("desk") { SendPai = true, CallerId = new CallerId("PjSharp Desk", "5551234") });
        using var scenario = SippScenario.Load("call-custom-uac.xml").Set("HEADERS", "").Set("MEDIA", Offers.PcmuPcma);
        scenario.Checks("CHECKS",
            scenario.Header("P-Asserted-Identity", "^ *\"PjSharp Desk\" <sip:5551234@[^>]+>$"),
            scenario.NoHeader("Remote-Party-ID"));
        var result = await host.RunSippAsync(scenario.Path, "echo", extra: ["-d", "100"]);
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task Send_rpid_puts_the_configured_caller_id_in_remote_party_id()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo),
            new Endpoint("desk") { SendRpid = true, CallerId = new CallerId("PjSharp Desk", "5551234") });
        using var scenario = SippScenario.Load("call-custom-uac.xml").Set("HEADERS", "").Set("MEDIA", Offers.PcmuPcma);
        scenario.Checks("CHECKS",
            scenario.Header("Remote-Party-ID", "^ *\"PjSharp Desk\" <sip:5551234@[^>]+>;party=called"),
            scenario.NoHeader("P-Asserted-Identity"));
        var result = await host.RunSippAsync(scenario.Path, "echo", extra: ["-d", "100"]);
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task Send_pai_puts_the_configured_caller_id_in_an_outgoing_invite()
    {
        var endpoint = new Endpoint("desk") { SendPai = true, CallerId = new CallerId("PjSharp Desk", "5551234") };
        await using var host = SessionTestHost.Start(endpoint: endpoint);
        using var scenario = SippScenario.Load("call-uas.xml");
        scenario.Checks("CHECKS_INVITE", scenario.Header("P-Asserted-Identity", "^ *\"PjSharp Desk\" <sip:5551234@[^>]+>$"))
            .Checks("CHECKS_BYE", scenario.NoHeader("P-Asserted-Identity"));
        var (uas, port) = SessionExtensionTests.StartUas(scenario);
        await using (uas)
        {
            var session = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:uas@127.0.0.1:{port}", Timeout = TimeSpan.FromSeconds(10) });
            Assert.That(await session.Answered.WaitAsync(TimeSpan.FromSeconds(15)), Is.EqualTo(200));
            await session.HangupAsync();
            var result = await uas.Completion.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        }
        await host.WaitForNoSessionsAsync();
    }

    /// <summary>One call to an application that reads the session's identity; the INVITE carries <paramref name="headers"/>.</summary>
    private static async Task<(SessionIdentity Remote, SessionIdentity Seed)> CallAndReadIdentityAsync(Endpoint endpoint, string headers)
    {
        var identities = new ConcurrentQueue<(SessionIdentity, SessionIdentity)>();
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", (session, ended) =>
        {
            identities.Enqueue((session.RemoteIdentity, session.GetIdentity()));
            return SessionApplications.Echo(session, ended);
        }), endpoint);
        using var scenario = SippScenario.Load("call-custom-uac.xml").Set("HEADERS", headers).Set("MEDIA", Offers.PcmuPcma).Set("CHECKS", "");
        var result = await host.RunSippAsync(scenario.Path, "echo", extra: ["-d", "100"]);
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
        Assert.That(identities, Has.Count.EqualTo(1));
        return identities.Single();
    }
}
