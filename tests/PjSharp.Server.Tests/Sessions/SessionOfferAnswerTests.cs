namespace PjSharp.Server.Tests.Sessions;

/// <summary>What incoming offers are answered with: declined streams, no codec in common.</summary>
public class SessionOfferAnswerTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task An_offered_video_stream_without_a_handler_is_declined_with_port_0_and_audio_accepted()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", PjSharp.Sessions.SessionApplications.Echo));
        var result = await host.RunSippAsync("call-video-declined-uac.xml", "echo");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }

    [Test]
    public async Task An_offer_with_no_codec_in_common_is_rejected_488()
    {
        var reached = false;
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", (session, ended) =>
        {
            reached = true;
            return PjSharp.Sessions.SessionApplications.Echo(session, ended);
        }));
        var result = await host.RunSippAsync("call-no-common-codec-uac.xml", "echo");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        Assert.That(reached, Is.False, "the call is rejected before an application sees it");
        await host.WaitForNoSessionsAsync();
        SessionAssert.NoWarnings(host);
    }
}
