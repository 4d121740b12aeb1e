using System.Diagnostics;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Session timers (RFC 4028) through pjsip's timer module, driven by SIPp.</summary>
public class SessionTimerTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    [CancelAfter(60_000)]
    public async Task A_timed_session_is_answered_with_session_expires_and_its_refreshes_are_accepted()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("timer", SessionApplications.Echo));
        var result = await host.RunSippAsync("timer-refresh-uac.xml", "timer");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe(host));
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_session_expires_below_min_se_is_answered_422_with_min_se()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("timer", SessionApplications.Echo));
        var result = await host.RunSippAsync("timer-too-small-uac.xml", "timer");
        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        await host.WaitForNoSessionsAsync();
        // The endpoint goes on taking calls (nothing left locked by the rejected one).
        var next = await host.RunSippAsync("timer-refresh-uac.xml", "timer");
        Assert.That(next.Successful, Is.EqualTo(1), next.Describe(host));
        await host.WaitForNoSessionsAsync();
    }

    /// <summary>
    /// pjsip's shortest: Session-Expires 90 (its floor), and a refreshee ends the session
    /// 90 - min(32, 90/3) = 60 s after the last refresh. This test takes about a minute.
    /// </summary>
    [Test]
    [CancelAfter(150_000)]
    public async Task A_session_that_is_not_refreshed_is_ended_with_bye_before_it_expires()
    {
        var answered = new TaskCompletionSource<SipSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("timer", async (session, ended) =>
        {
            await session.AnswerAsync();
            answered.TrySetResult(session);
            await session.Completion;
        }));
        var run = host.RunSippAsync("timer-expiry-uac.xml", "timer", timeout: TimeSpan.FromSeconds(100));
        var session = await answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var clock = Stopwatch.StartNew();
        var end = await session.Completion.WaitAsync(TimeSpan.FromSeconds(90));
        var elapsed = clock.Elapsed;
        var result = await run;
        Assert.Multiple(() =>
        {
            Assert.That(result.Successful, Is.EqualTo(1), result.Describe(host));
            Assert.That(end.WasConnected, Is.True);
            Assert.That(elapsed, Is.InRange(TimeSpan.FromSeconds(55), TimeSpan.FromSeconds(75)), "pjsip ends an unrefreshed 90 s session after about 60 s");
            Assert.That(end.Reason, Does.Contain("refresh").IgnoreCase, "the end names the missing refresh");
        });
        await host.WaitForNoSessionsAsync();
    }
}
