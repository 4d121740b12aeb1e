using System.Collections.Concurrent;
using PjSharp.DataAccess;
using PjSharp.Media;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>SDP handlers replaced, removed and added at run time; the endpoint's codec list.</summary>
public class SdpHandlerTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task An_audio_handler_set_at_run_time_shapes_the_next_calls_answer()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo));
        // Stock handler: pjmedia answers with the first common codec in the offer's order (PCMU).
        await CallExpectingAsync(host, Offers.PcmuPcma, s => [s.Body(Offers.AudioAnswer("0 101")), s.NoBody("a=x-pjsharp")]);

        var custom = new PcmaOnlyAudio();
        Assert.That(host.Sessions.SetSdpHandler(custom), Is.InstanceOf<AudioSdpHandler>(), "the stock handler is returned");
        Assert.That(host.Sessions.SdpHandlers, Is.EqualTo(new SdpHandler[] { custom }));
        await CallExpectingAsync(host, Offers.PcmuPcma, s => [s.Body(Offers.AudioAnswer("8 101")), s.Body("a=x-pjsharp:pcma-only")]);
        await host.WaitForNoSessionsAsync();
        Assert.That(custom.Applied, Is.EqualTo(1));
        await SessionExtensionTests.WaitUntilAsync(() => custom.Released == 1);
        Assert.That(custom.Released, Is.EqualTo(1), "released once, when the call ended");
    }

    [Test]
    public async Task Without_an_audio_handler_an_audio_only_offer_gets_488()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo));
        var audio = host.Sessions.RemoveSdpHandler("audio");
        Assert.That(audio, Is.InstanceOf<AudioSdpHandler>());
        Assert.That(host.Sessions.RemoveSdpHandler("audio"), Is.Null);
        using var scenario = SessionTestHost.RejectedScenario(488);
        var rejected = await host.RunSippAsync(scenario.Path, "echo");
        Assert.That(rejected.Successful, Is.EqualTo(1), rejected.Describe());
        await host.WaitForNoSessionsAsync();

        Assert.That(host.Sessions.SetSdpHandler(audio!), Is.Null);
        var answered = await host.RunSippAsync("call-uac.xml", "echo", extra: ["-d", "100"]);
        Assert.That(answered.Successful, Is.EqualTo(1), answered.Describe());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task A_video_handler_accepts_the_offered_video_is_applied_with_both_descriptions_and_released_once()
    {
        var video = new RecordingVideoHandler();
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("echo", SessionApplications.Echo);
            s.SetSdpHandler(video);
        });
        await CallExpectingAsync(host, Offers.AudioAndVideo, s =>
            [s.Body(Offers.AudioAnswer("0 101")), s.Body($"m=video {RecordingVideoHandler.Port} RTP/AVP 96[^0-9 ]")]);
        await host.WaitForNoSessionsAsync();
        await SessionExtensionTests.WaitUntilAsync(() => !video.Released.IsEmpty);

        var (session, local, remote) = video.Applied.Single();
        Assert.That(local.Media, Is.EqualTo("video"));
        Assert.That(local.Port, Is.EqualTo(RecordingVideoHandler.Port));
        Assert.That(local.Formats, Is.EqualTo(new[] { "96" }));
        Assert.That(remote.Media, Is.EqualTo("video"));
        Assert.That(remote.Port, Is.Positive);
        Assert.That(remote.EncodingOf("96"), Is.EqualTo("VP8"));
        Assert.That(video.Released.Keys, Is.EqualTo(new[] { session }));
        Assert.That(video.Released[session], Is.EqualTo(1), "released once");
    }

    [Test]
    public async Task An_offered_stream_without_a_handler_is_declined_with_port_0()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo));
        await CallExpectingAsync(host, Offers.AudioAndVideo, s => [s.Body(Offers.AudioAnswer("0 101")), s.Body("m=video 0 RTP/AVP")]);
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task An_endpoint_allowing_only_alaw_answers_a_pcmu_pcma_offer_with_pcma_only()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo),
            new Endpoint("alaw-only") { Allow = ["alaw"] });
        await CallExpectingAsync(host, Offers.PcmuPcma, s => [s.Body(Offers.AudioAnswer("8 101")), s.NoBody("PCMU")]);
        await host.WaitForNoSessionsAsync();
        Assert.That(host.Logs.Entries.Where(e => e.Id.Id is 7003 or 7004), Is.Empty, "the stream started");
    }

    [Test]
    public async Task An_endpoint_allowing_g722_answers_a_g722_offer_with_g722()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", SessionApplications.Echo),
            new Endpoint("wideband") { Allow = ["g722"] });
        await CallExpectingAsync(host, Offers.G722Pcmu, s => [s.Body(Offers.AudioAnswer("9 101")), s.Body("a=rtpmap:9 G722/8000")]);
        await host.WaitForNoSessionsAsync();
        Assert.That(host.Logs.Entries.Where(e => e.Id.Id is 7003 or 7004), Is.Empty, "the stream started");
    }

    /// <summary>One call with <paramref name="media"/> as the offer; the 200 must pass the checks.</summary>
    private static async Task CallExpectingAsync(SessionTestHost host, string media, Func<SippScenario, string[]> checks)
    {
        using var scenario = SippScenario.Load("call-custom-uac.xml").Set("HEADERS", "").Set("MEDIA", media);
        scenario.Checks("CHECKS", checks(scenario));
        var result = await host.RunSippAsync(scenario.Path, "echo", extra: ["-d", "100"]);
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
    }

    /// <summary>The stock audio handler offering PCMA only, with an attribute of its own.</summary>
    private sealed class PcmaOnlyAudio : SdpHandler
    {
        private readonly AudioSdpHandler _audio = new();
        private int _applied;
        private int _released;

        public override string MediaType => "audio";

        public int Applied => Volatile.Read(ref _applied);

        public int Released => Volatile.Read(ref _released);

        public override SdpMediaDescription? CreateOffer(SipSession session, SdpDirection direction)
        {
            var stream = _audio.CreateOffer(session, direction);
            if (stream == null)
                return null;
            stream.Formats.RemoveAll(f => f is not ("8" or "101"));
            stream.Attributes.RemoveAll(a => a.Name is "rtpmap" or "fmtp" && !(a.Value ?? "").StartsWith("8 ", StringComparison.Ordinal) && !(a.Value ?? "").StartsWith("101 ", StringComparison.Ordinal));
            stream.Attributes.Add(new SdpAttributeLine("x-pjsharp", "pcma-only"));
            return stream.Formats.Contains("8") ? stream : null;
        }

        public override void Apply(SipSession session, SdpMediaDescription local, SdpMediaDescription remote)
        {
            Interlocked.Increment(ref _applied);
            _audio.Apply(session, local, remote);
        }

        public override void Release(SipSession session)
        {
            Interlocked.Increment(ref _released);
            _audio.Release(session);
        }
    }

    /// <summary>Accepts VP8 video (SDP only, no media) and records what it is given.</summary>
    private sealed class RecordingVideoHandler : SdpHandler
    {
        public const int Port = 47010;

        public override string MediaType => "video";

        public ConcurrentQueue<(SipSession Session, SdpMediaDescription Local, SdpMediaDescription Remote)> Applied { get; } = new();

        public ConcurrentDictionary<SipSession, int> Released { get; } = new();

        public override SdpMediaDescription? CreateOffer(SipSession session, SdpDirection direction)
        {
            var stream = new SdpMediaDescription { Media = "video", Port = Port, Transport = "RTP/AVP", Formats = { "96" } };
            stream.Attributes.Add(new SdpAttributeLine("rtpmap", "96 VP8/90000"));
            stream.Direction = direction;
            return stream;
        }

        public override void Apply(SipSession session, SdpMediaDescription local, SdpMediaDescription remote) => Applied.Enqueue((session, local, remote));

        public override void Release(SipSession session) => Released.AddOrUpdate(session, 1, (_, count) => count + 1);
    }
}
