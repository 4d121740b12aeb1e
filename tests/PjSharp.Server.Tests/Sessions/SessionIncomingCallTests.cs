using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Incoming calls that end before they are answered: the caller's CANCEL.</summary>
public class SessionIncomingCallTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task A_ringing_call_cancelled_by_the_caller_gets_487_and_ends_unconnected()
    {
        var ringing = new TaskCompletionSource<SipSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("ring", async (session, ended) =>
        {
            await session.RingAsync();
            ringing.TrySetResult(session);
            await Task.Delay(Timeout.Infinite, ended);
        }));
        var result = await host.RunSippAsync("call-cancel-uac.xml", "ring");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());

        var session = await ringing.Task.WaitAsync(Limit);
        var end = await session.Completion.WaitAsync(Limit);
        Assert.That(end.WasConnected, Is.False);
        Assert.That(end.StatusCode, Is.EqualTo(487));
        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(487));
        Assert.That(session.Ended.IsCancellationRequested, "the application's token fired");
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }
}
