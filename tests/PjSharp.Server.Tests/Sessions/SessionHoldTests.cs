using PjSharp.Media;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Hold and resume (RFC 3264 §8.4): offered by the peer, and by this side with re-INVITE and UPDATE.</summary>
public class SessionHoldTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task A_caller_holding_with_sendonly_is_answered_recvonly_then_sendrecv_on_resume()
    {
        var audio = new RecordingAudioHandler();
        await using var host = SessionTestHost.Start(s =>
        {
            s.SetSdpHandler(audio);
            s.Router.MapInvite("hold", async (session, _) =>
            {
                await session.AnswerAsync();
                await session.Completion;
            });
        });
        // The scenario checks the directions in the answers; the handler sees what was applied.
        var result = await host.RunSippAsync("call-hold-uac.xml", "hold");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
        Assert.That(audio.Applied, Is.EqualTo(new[] { SdpDirection.SendRecv, SdpDirection.RecvOnly, SdpDirection.SendRecv }));
    }

    [Test]
    public async Task Holding_and_resuming_the_callee_offers_sendonly_then_sendrecv_by_reinvite_and_by_update()
    {
        await using var host = SessionTestHost.Start();
        await using var callee = await SippCallee.StartAsync("call-uas-hold.xml", host);
        var session = await host.Sessions.CallAsync(new CallOptions { Target = callee.Uri });
        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(200));

        Assert.That(await session.HoldAsync().WaitAsync(Limit), Is.EqualTo(200));
        Assert.That(await DirectionOf(session), Is.EqualTo(SdpDirection.SendOnly));
        Assert.That(await session.ResumeAsync().WaitAsync(Limit), Is.EqualTo(200));
        Assert.That(await DirectionOf(session), Is.EqualTo(SdpDirection.SendRecv));
        Assert.That(await session.HoldAsync(useUpdate: true).WaitAsync(Limit), Is.EqualTo(200));
        Assert.That(await DirectionOf(session), Is.EqualTo(SdpDirection.SendOnly));
        Assert.That(await session.ResumeAsync(useUpdate: true).WaitAsync(Limit), Is.EqualTo(200));
        Assert.That(await DirectionOf(session), Is.EqualTo(SdpDirection.SendRecv));

        await session.HangupAsync();
        Assert.That((await session.Completion.WaitAsync(Limit)).WasConnected, Is.True);
        await callee.AssertSucceededAsync();
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }

    private static Task<SdpDirection?> DirectionOf(SipSession session) => session.InvokeAsync(() => session.Audio?.Direction);

    /// <summary>The built-in audio handler, noting the local direction of each negotiated answer it applies.</summary>
    private sealed class RecordingAudioHandler : SdpHandler
    {
        private readonly AudioSdpHandler _inner = new();
        private readonly List<SdpDirection> _applied = [];

        public override string MediaType => _inner.MediaType;

        public IReadOnlyList<SdpDirection> Applied
        {
            get
            {
                lock (_applied)
                    return [.. _applied];
            }
        }

        public override SdpMediaDescription? CreateOffer(SipSession session, SdpDirection direction) => _inner.CreateOffer(session, direction);

        public override SdpMediaDescription? CreateAnswer(SipSession session, SdpMediaDescription offer, SdpDirection direction) =>
            _inner.CreateAnswer(session, offer, direction);

        public override void Apply(SipSession session, SdpMediaDescription local, SdpMediaDescription remote)
        {
            lock (_applied)
                _applied.Add(local.Direction);
            _inner.Apply(session, local, remote);
        }

        public override void Release(SipSession session) => _inner.Release(session);
    }
}
