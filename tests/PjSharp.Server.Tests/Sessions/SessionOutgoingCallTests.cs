using PjSharp.DataAccess;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Outgoing calls from <see cref="SessionService.CallAsync"/> to SIPp as the callee.</summary>
public class SessionOutgoingCallTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task An_answered_call_negotiates_audio_and_ends_with_our_bye()
    {
        await using var host = SessionTestHost.Start();
        await using var callee = await SippCallee.StartAsync("call-uas-answer.xml", host);
        var session = await host.Sessions.CallAsync(new CallOptions { Target = callee.Uri });
        Assert.That(session.Direction, Is.EqualTo(SessionDirection.Outbound));

        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(200));
        var codec = await session.InvokeAsync(() => session.Audio?.Codec);
        Assert.That(codec, Is.EqualTo("PCMU"), "the callee answered PCMU only");
        await session.HangupAsync();
        var end = await session.Completion.WaitAsync(Limit);
        Assert.That(end.WasConnected, Is.True);
        await callee.AssertSucceededAsync();
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }

    [Test]
    public async Task A_busy_callee_completes_answered_with_486()
    {
        await using var host = SessionTestHost.Start();
        await using var callee = await SippCallee.StartAsync("call-uas-busy.xml", host);
        var session = await host.Sessions.CallAsync(new CallOptions { Target = callee.Uri });

        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(486));
        var end = await session.Completion.WaitAsync(Limit);
        Assert.That(end.WasConnected, Is.False);
        Assert.That(end.StatusCode, Is.EqualTo(486));
        await callee.AssertSucceededAsync();
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }

    [Test]
    public async Task An_unanswered_call_is_cancelled_at_its_timeout_and_completes_with_487()
    {
        await using var host = SessionTestHost.Start();
        await using var callee = await SippCallee.StartAsync("call-uas-no-answer.xml", host);
        var started = DateTime.UtcNow;
        var session = await host.Sessions.CallAsync(new CallOptions { Target = callee.Uri, Timeout = TimeSpan.FromSeconds(1) });

        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(487));
        Assert.That(DateTime.UtcNow - started, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.9)), "cancelled at the timeout, not before");
        var end = await session.Completion.WaitAsync(Limit);
        Assert.That(end.WasConnected, Is.False);
        Assert.That(end.StatusCode, Is.EqualTo(487));
        await callee.AssertSucceededAsync();
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }

    [Test]
    public async Task Hanging_up_a_ringing_call_cancels_it()
    {
        await using var host = SessionTestHost.Start();
        await using var callee = await SippCallee.StartAsync("call-uas-no-answer.xml", host);
        var session = await host.Sessions.CallAsync(new CallOptions { Target = callee.Uri });
        var deadline = DateTime.UtcNow + Limit;
        while (session.State != SessionState.Early && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.That(session.State, Is.EqualTo(SessionState.Early), "the callee's 180 arrived");

        await session.HangupAsync();
        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(487));
        Assert.That((await session.Completion.WaitAsync(Limit)).StatusCode, Is.EqualTo(487));
        await callee.AssertSucceededAsync();
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }

    [Test]
    public async Task A_digest_challenge_is_answered_from_the_endpoints_outbound_auth()
    {
        var requested = new List<string>();
        await using var host = SessionTestHost.Start(s => s.Options.FindAuth = (id, _) =>
        {
            lock (requested)
                requested.Add(id);
            return ValueTask.FromResult<Auth?>(id == "trunk" ? new Auth("trunk") { Username = "trunkuser", Password = "trunk-secret" } : null);
        });
        await using var callee = await SippCallee.StartAsync("call-uas-auth.xml", host);
        var trunk = new Endpoint("trunk") { Context = "default", OutboundAuth = ["trunk"] };
        var session = await host.Sessions.CallAsync(new CallOptions { Target = callee.Uri, Endpoint = trunk });

        // SIPp answers 403 when the retried INVITE's credentials do not verify.
        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(200));
        Assert.That(requested, Is.EqualTo(new[] { "trunk" }));
        await session.HangupAsync();
        Assert.That((await session.Completion.WaitAsync(Limit)).WasConnected, Is.True);
        await callee.AssertSucceededAsync();
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }
}
