using System.Diagnostics;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Calls give back every pjsip pool they took (dialogs, INVITE sessions, media, transactions, messages).</summary>
public class SessionPoolTests
{
    /// <summary>
    /// How long pjsip keeps a finished call's pools on UDP: the dialog lives until its last
    /// transaction is destroyed, and the INVITE server transaction stays 64*T1 = 32 s after its 2xx
    /// (RFC 6026 Timer L), as does the server transaction of the caller's BYE (Timer J). Media
    /// pools go back when the session ends. Margin for a loaded 2-core machine.
    /// </summary>
    private static readonly TimeSpan TransactionLinger = TimeSpan.FromSeconds(32 + 13);

    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task Pools_in_use_return_to_their_count_before_50_calls_once_pjsips_transactions_are_gone()
    {
        await using var host = SessionTestHost.Start(s => s.Router
            .MapInvite("echo", SessionApplications.Echo)
            .MapInvite("answer-and-hang-up", SessionExtensionTests.AnswerAndHangUp));
        var before = host.Endpoint.PoolsInUse;

        // Half end with the caller's BYE, half with pjsharp's, at the same time.
        var callerBye = host.RunSippAsync("call-uac.xml", "echo", calls: 25, rate: 25, extra: ["-d", "100"]);
        var serverBye = host.RunSippAsync("call-server-bye-uac.xml", "answer-and-hang-up", calls: 25, rate: 25);
        var results = await Task.WhenAll(callerBye, serverBye);
        Assert.That(results.Select(r => r.Successful), Is.EqualTo(new[] { 25L, 25L }), string.Join("\n", results.Select(r => r.Describe())));
        await host.WaitForNoSessionsAsync();
        Assert.That(host.Sessions.SessionsStarted, Is.EqualTo(50));

        var afterCalls = host.Endpoint.PoolsInUse;
        Assert.That(afterCalls, Is.GreaterThan(before), "the finished calls' transactions still hold pools: the count sees them");
        var clock = Stopwatch.StartNew();
        while (host.Endpoint.PoolsInUse > before && clock.Elapsed < TransactionLinger)
            await Task.Delay(500);
        Assert.That(host.Endpoint.PoolsInUse, Is.EqualTo(before),
            $"pools before the calls: {before}; right after them: {afterCalls}; {clock.Elapsed.TotalSeconds:0} s later: {host.Endpoint.PoolsInUse}");
    }
}
