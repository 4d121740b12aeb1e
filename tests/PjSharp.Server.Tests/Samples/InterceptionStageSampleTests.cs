using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Samples;

/// <summary>samples/InterceptionStage: a user stage turns away callers with a blocked prefix (appsettings.json: 900, +1900).</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class InterceptionStageSampleTests
{
    [SetUp]
    public void RequireSipp() => SipTestServer.RequireSipp();

    [Test]
    public async Task A_call_from_a_blocked_prefix_gets_403_and_other_calls_reach_the_echo()
    {
        await using var sample = await RunningSample.StartAsync("InterceptionStage");

        var refused = await sample.RunSippAsync(RunningSample.Scenario("InterceptionStage", "blocked-call-uac.xml"), "echo");
        var answered = await sample.RunSippAsync(SippRunner.Scenario("call-uac.xml"), "echo", extra: ["-d", "100"]);

        Assert.That(refused.Successful, Is.EqualTo(1), () => sample.Describe(refused));
        Assert.That(answered.Successful, Is.EqualTo(1), () => sample.Describe(answered));
        await sample.WaitForOutputAsync("Blocked a call from 9005550100 ");
        Assert.That(sample.Output, Does.Not.Contain("Blocked a call from sipp"));
    }
}
