using PjSharp.Bridging;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Bridging;

/// <summary>The bridge's dial-plan hook in C#, in-process over a real pjsip endpoint, with SIPp on both sides.</summary>
[NonParallelizable]
public class DialPlanTests
{
    [OneTimeSetUp]
    public void RequireSipp() => SipTestServer.RequireSipp();

    [Test]
    public async Task A_dial_plan_chooses_the_target_and_one_that_throws_ends_only_its_own_call()
    {
        SippCallee? callee = null;
        CallBridge? bridge = null;
        await using var host = SessionTestHost.Start(sessions =>
        {
            bridge = new CallBridge(sessions);
            bridge.DialPlan = (caller, _) => caller.Target switch
            {
                "boom" => throw new InvalidOperationException("dial plan failure for the test"),
                "desk" => ValueTask.FromResult(DialResult.Ring(new DialTarget(callee!.Uri))),
                _ => ValueTask.FromResult(DialResult.Reject(404)),
            };
            sessions.Router.Fallback = bridge.Route;
        });
        await using var answering = await SippCallee.StartAsync("call-uas-answer.xml", host);
        callee = answering;

        using var failing = SessionTestHost.RejectedScenario(500);
        var boom = host.RunSippAsync(failing.Path, "boom");
        var desk = host.RunSippAsync("call-uac.xml", "desk", extra: ["-d", "1500"]);
        var results = await Task.WhenAll(boom, desk);

        Assert.That(results[0].Successful, Is.EqualTo(1), "the call whose dial plan threw got 500: " + results[0].Describe());
        Assert.That(results[1].Successful, Is.EqualTo(1), "the other call was bridged meanwhile: " + results[1].Describe());
        await answering.AssertSucceededAsync();
        Assert.That(host.Logs.Entries.Any(e => e.Id.Id == 7001 && e.Exception?.Message == "dial plan failure for the test"), "the failure was logged");
        Assert.That(bridge!.BridgedCalls, Is.EqualTo(1));
        await host.WaitForNoSessionsAsync();
    }

    [TestCase(new[] { 486, 487 }, 486)]
    [TestCase(new[] { 603, 486 }, 603)]
    [TestCase(new[] { 487, 487 }, 480)]
    [TestCase(new[] { 408 }, 480)]
    [TestCase(new[] { 404, 480 }, 404)]
    [TestCase(new[] { 503, 500 }, 503)]
    [TestCase(new[] { 407 }, 480)]
    public void Failures_of_every_leg_map_to_what_the_caller_hears(int[] statuses, int expected) =>
        Assert.That(CallBridge.MapFailure(statuses), Is.EqualTo(expected));
}
