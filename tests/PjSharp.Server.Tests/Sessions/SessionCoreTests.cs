using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Calls into the session core from SIPp: routing, answering, hanging up, application failures.</summary>
public class SessionCoreTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task A_call_to_echo_is_answered_and_ends_with_the_callers_bye()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo));
        var result = await host.RunSippAsync("call-uac.xml", "echo", calls: 3, extra: ["-d", "200"]);
        Assert.That(result.Successful, Is.EqualTo(3), result.ToString());
        await host.WaitForNoSessionsAsync();
        Assert.That(host.Sessions.SessionsStarted, Is.EqualTo(3));
    }

    [Test]
    public async Task An_unknown_target_is_answered_404()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo));
        using var rejected = SessionTestHost.RejectedScenario(404);
        var result = await host.RunSippAsync(rejected.Path, "nobody");
        Assert.That(result.Successful, Is.EqualTo(1), result.ToString());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task An_application_that_throws_before_answering_ends_its_call_with_500_and_a_log_line()
    {
        await using var host = SessionTestHost.Start(s => s.Router
            .MapInvite("broken", (_, _) => throw new InvalidOperationException("application bug"))
            .MapInvite("echo", SessionApplications.Echo));
        using var rejected = SessionTestHost.RejectedScenario(500);
        var failed = await host.RunSippAsync(rejected.Path, "broken");
        Assert.That(failed.Successful, Is.EqualTo(1), failed.ToString());
        Assert.That(host.Logs.Entries.Any(e => e.Id.Id == 7001 && e.Exception?.Message == "application bug"), "the failure is logged");
        // The server goes on serving other calls.
        var next = await host.RunSippAsync("call-uac.xml", "echo", extra: ["-d", "100"]);
        Assert.That(next.Successful, Is.EqualTo(1), next.ToString());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task An_application_that_throws_after_answering_ends_its_call_with_bye()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("answer-then-fail", async (session, _) =>
        {
            await session.AnswerAsync();
            await Task.Delay(300, CancellationToken.None);
            throw new InvalidOperationException("late bug");
        }));
        var result = await host.RunSippAsync("call-server-bye-uac.xml", "answer-then-fail");
        Assert.That(result.Successful, Is.EqualTo(1), result.ToString());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task A_call_that_finds_no_free_rtp_port_is_answered_503_and_the_others_go_on()
    {
        // Two RTP port pairs: two calls hold them, the third cannot have media.
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo), rtpPortStart: 36000, rtpPortCount: 4);
        var holding = host.RunSippAsync("call-uac.xml", "echo", calls: 2, rate: 20, extra: ["-d", "4000", "-l", "2"]);
        await Task.Delay(TimeSpan.FromSeconds(1));
        using var rejected = SessionTestHost.RejectedScenario(503);
        var refused = await host.RunSippAsync(rejected.Path, "echo");
        Assert.That(refused.Successful, Is.EqualTo(1), refused.ToString());
        var held = await holding;
        Assert.That(held.Successful, Is.EqualTo(2), held.ToString());
        await host.WaitForNoSessionsAsync();
        var again = await host.RunSippAsync("call-uac.xml", "echo", extra: ["-d", "100"]);
        Assert.That(again.Successful, Is.EqualTo(1), "ports come back when calls end: " + again);
    }

    [Test]
    public async Task An_outgoing_call_that_cannot_be_set_up_throws_and_leaves_no_session()
    {
        await using var host = SessionTestHost.Start(s => s.RemoveSdpHandler("audio"));
        var failure = Assert.ThrowsAsync<InvalidOperationException>(() => host.Sessions.CallAsync(new CallOptions { Target = "sip:nobody@127.0.0.1:9" }));
        Assert.That(failure!.Message, Does.Contain("SDP handler"));
        await host.WaitForNoSessionsAsync();
    }
}
