using PjSharp.Server.Tests.Sessions;
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
        using var blocked = SippScenario.Load("call-rejected-uac.xml")
            .Replace("\"STATUS\"", "\"403\"")
            .Replace("sip:sipp@", "sip:9005550100@");

        var refused = await RunAsync(sample, blocked.Path);
        var answered = await RunAsync(sample, SippRunner.Scenario("call-uac.xml"), "-d", "100");

        Assert.That(refused.Successful, Is.EqualTo(1), () => refused.Describe() + "\n--- sample ---\n" + sample.Output);
        Assert.That(answered.Successful, Is.EqualTo(1), () => answered.Describe() + "\n--- sample ---\n" + sample.Output);
        await sample.WaitForOutputAsync("Blocked a call from 9005550100 ");
        Assert.That(sample.Output, Does.Not.Contain("Blocked a call from sipp"));
    }

    private static Task<SippResult> RunAsync(RunningSample sample, string scenario, params string[] extra) =>
        SippRunner.RunAsync(new SippOptions
        {
            Scenario = scenario,
            Target = sample.Target,
            Service = "echo",
            Timeout = TimeSpan.FromSeconds(20),
            TraceErrors = true,
            ExtraArguments = extra,
        });
}
