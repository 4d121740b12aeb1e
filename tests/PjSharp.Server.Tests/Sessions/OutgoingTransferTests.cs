using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Blind transfer this side asks for (RFC 3515): REFER, then the transferee's NOTIFY reports; SIPp is the transferee.</summary>
public sealed class OutgoingTransferTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [TestCase("SIP/2.0 200 OK", 200, TestName = "A transfer the target answered completes with 200")]
    [TestCase("SIP/2.0 486 Busy Here", 486, TestName = "A transfer to a busy target completes with 486 and the call stays up")]
    public async Task Transfer_completes_with_the_final_status_the_transferee_reports(string finalReport, int expected)
    {
        await using var host = SessionTestHost.Start();
        using var scenario = SippScenario.Load("call-uas-transferee.xml").Replace("SIPFRAG_FINAL", finalReport);
        await using var transferee = await SippCallee.StartAsync(scenario.Path, host);
        var session = await host.Sessions.CallAsync(new CallOptions { Target = transferee.Uri });
        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(200));

        Assert.That(await session.TransferAsync("sip:operator@example.com").WaitAsync(Limit), Is.EqualTo(expected));
        Assert.That(session.Ended.IsCancellationRequested, Is.False, "the transferor decides when to hang up");

        await session.HangupAsync();
        Assert.That((await session.Completion.WaitAsync(Limit)).WasConnected, Is.True);
        await transferee.AssertSucceededAsync();
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }

    [Test]
    public async Task A_peer_that_refuses_refer_gets_its_status_returned()
    {
        await using var host = SessionTestHost.Start();
        await using var peer = await SippCallee.StartAsync("call-uas-refer-refused.xml", host);
        var session = await host.Sessions.CallAsync(new CallOptions { Target = peer.Uri });
        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(200));

        Assert.That(await session.TransferAsync("sip:operator@example.com").WaitAsync(Limit), Is.EqualTo(405));

        await session.HangupAsync();
        await peer.AssertSucceededAsync();
        await host.WaitForNoSessionsAsync();
    }

    [TestCase("SIP/2.0 200 OK\r\n", 200)]
    [TestCase("  SIP/2.0 503 Service Unavailable", 503)]
    [TestCase("SIP/2.0 180", 180)]
    [TestCase("SIP/2.0 20 OK", 0)]
    [TestCase("SIP/2.0 2000 OK", 0)]
    [TestCase("HTTP/1.1 200 OK", 0)]
    [TestCase("", 0)]
    public void The_status_line_of_a_sipfrag_is_read_and_anything_else_is_0(string body, int status) =>
        Assert.That(SessionService.SipFragStatus(System.Text.Encoding.ASCII.GetBytes(body)), Is.EqualTo(status));
}
