using PjSharp.DataAccess;
using PjSharp.Media;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Media;

/// <summary>
/// WebRTC media (<c>webrtc=yes</c>): UDP/TLS/RTP/SAVPF with ICE, DTLS-SRTP, rtcp-mux and Opus, checked
/// on the SDP a WebRTC endpoint offers and answers, and on a call between two such channels in this
/// process (ICE checks, the DTLS handshake and RFC 4733 events echoed back through SRTP).
/// </summary>
[CancelAfter(60_000)]
public class WebRtcMediaTests
{
    private static readonly Endpoint WebRtcEndpoint = new("browser") { Context = "default", Webrtc = true, Allow = ["opus", "ulaw", "alaw"] };

    /// <summary>An offer as Chrome sends it after gathering (non-trickle, as SIP over WebSocket clients wait for).</summary>
    private const string ChromeOffer =
        "v=0\r\n" +
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" +
        "s=-\r\n" +
        "t=0 0\r\n" +
        "a=group:BUNDLE 0\r\n" +
        "a=extmap-allow-mixed\r\n" +
        "a=msid-semantic: WMS 6f1c0b7e-5b3a-4c1e-9f3e-2d6c7a8b9c0d\r\n" +
        "m=audio 45817 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" +
        "c=IN IP4 127.0.0.1\r\n" +
        "a=rtcp:9 IN IP4 0.0.0.0\r\n" +
        "a=candidate:2999745851 1 udp 2122260223 127.0.0.1 45817 typ host generation 0 network-id 1\r\n" +
        "a=ice-ufrag:Kq8v\r\n" +
        "a=ice-pwd:Zt3mYp1dQw7sL2nXr9bVc4Hf\r\n" +
        "a=ice-options:trickle\r\n" +
        "a=fingerprint:sha-256 3A:96:6D:57:B2:C2:C7:61:A0:46:3E:1C:97:39:D3:F7:0A:88:A0:B1:EC:03:FB:10:A5:5D:3A:37:AB:DD:02:AA\r\n" +
        "a=setup:actpass\r\n" +
        "a=mid:0\r\n" +
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" +
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" +
        "a=sendrecv\r\n" +
        "a=msid:6f1c0b7e-5b3a-4c1e-9f3e-2d6c7a8b9c0d 0c9d8e7f-1a2b-4c3d-8e9f-a0b1c2d3e4f5\r\n" +
        "a=rtcp-mux\r\n" +
        "a=rtpmap:111 opus/48000/2\r\n" +
        "a=rtcp-fb:111 transport-cc\r\n" +
        "a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
        "a=rtpmap:63 red/48000/2\r\n" +
        "a=fmtp:63 111/111\r\n" +
        "a=rtpmap:9 G722/8000\r\n" +
        "a=rtpmap:0 PCMU/8000\r\n" +
        "a=rtpmap:8 PCMA/8000\r\n" +
        "a=rtpmap:13 CN/8000\r\n" +
        "a=rtpmap:110 telephone-event/48000\r\n" +
        "a=rtpmap:126 telephone-event/8000\r\n" +
        "a=ssrc:3735928559 cname:Yx3bQm0eTz9aKc2P\r\n";

    [Test]
    public async Task A_webrtc_endpoint_offers_savpf_with_ice_dtls_rtcp_mux_and_opus()
    {
        var answered = new TaskCompletionSource<SipSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("look", async (call, ended) =>
        {
            await call.AnswerAsync();
            answered.TrySetResult(call);
            await UntilEnded(ended);
        }), endpoint: WebRtcEndpoint);
        var caller = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:look@{host.Target}" });
        Assert.That(await caller.Answered.WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(200));
        var callee = await answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var offer = await callee.InvokeAsync(() => callee.RemoteSdp);
        TestContext.Out.WriteLine(offer);

        Assert.That(offer, Does.Contain(" UDP/TLS/RTP/SAVPF 111 0 8 101\r\n"), "the profile, opus first");
        AssertWebRtcAttributes(offer!);
        Assert.That(offer, Does.Contain("a=setup:actpass"), "the offerer lets the answerer choose its DTLS role");
        Assert.That(offer, Does.Contain("a=rtpmap:111 opus/48000/2"));
        await caller.HangupAsync();
    }

    [Test]
    public async Task A_chrome_offer_is_answered_with_opus_dtls_ice_and_rtcp_mux()
    {
        var answered = new TaskCompletionSource<SipSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("browser", async (call, ended) =>
        {
            await call.AnswerAsync();
            answered.TrySetResult(call);
            await UntilEnded(ended);
        }), endpoint: WebRtcEndpoint);
        // The offer goes as is (passthrough) from a plain endpoint of the same process.
        var caller = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:browser@{host.Target}", Sdp = ChromeOffer });
        Assert.That(await caller.Answered.WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(200));
        var callee = await answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var answer = await caller.InvokeAsync(() => caller.RemoteSdp);
        TestContext.Out.WriteLine(answer);

        Assert.That(answer, Does.Match(@"m=audio [1-9][0-9]* UDP/TLS/RTP/SAVPF 111( |\r\n)"), "opus first, as offered, in the offer's profile");
        AssertWebRtcAttributes(answer!);
        Assert.That(answer, Does.Match("a=setup:(active|passive)"), "the answerer takes a DTLS role");
        Assert.That(answer, Does.Not.Contain("a=setup:actpass"));
        Assert.That(answer, Does.Contain("a=mid:0"), "the offer's m= line name comes back");
        var audio = await callee.InvokeAsync(() => callee.Audio!);
        Assert.Multiple(() =>
        {
            Assert.That(audio.UsesIce && audio.UsesDtls && audio.UsesRtcpMux && audio.UsesAvpf, Is.True);
            Assert.That(audio.Codec, Is.EqualTo("opus"));
            Assert.That(audio.LocalFingerprint, Does.StartWith("SHA-256 "));
        });
        await caller.HangupAsync();
    }

    [Test]
    public async Task A_plain_rtp_offer_to_a_dtls_endpoint_is_declined_with_488()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("browser", async (call, ended) =>
        {
            await call.AnswerAsync();
            await UntilEnded(ended);
        }), endpoint: WebRtcEndpoint);
        var caller = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:browser@{host.Target}", Endpoint = SessionTestHost.DefaultEndpoint });
        Assert.That(await caller.Answered.WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(488));
    }

    public static IEnumerable<TestCaseData> Chains { get; } =
    [
        new TestCaseData(WebRtcEndpoint).SetArgDisplayNames("webrtc"),
        new TestCaseData(new Endpoint("ice-no-mux") { Context = "default", IceSupport = true, MediaEncryption = MediaEncryption.Dtls, Allow = ["ulaw"] })
            .SetArgDisplayNames("ice and dtls, RTCP on its own port, PCMU"), // a=rtcp names RTCP's port, which ICE may bind below RTP's
        // DTLS without ICE is left out: the answerer (setup:active) sends its ClientHello with the answer;
        // when the handshake ends before the offerer applies the answer, pjmedia's check of the peer's
        // fingerprint finds no certificate (PJMEDIA_SRTP_DTLS_EPEERNOCERT) and media_start fails.
    ];

    [TestCaseSource(nameof(Chains))]
    public async Task Two_channels_complete_their_handshakes_and_rtp_flows_through_srtp(Endpoint endpoint)
    {
        var answered = new TaskCompletionSource<SipSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", async (call, ended) =>
        {
            await call.InvokeAsync(() => call.Audio!.StartEcho());
            await call.AnswerAsync();
            answered.TrySetResult(call);
            await UntilEnded(ended);
        }), endpoint: endpoint);
        var caller = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:echo@{host.Target}", Endpoint = endpoint });
        Assert.That(await caller.Answered.WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(200));
        var callee = await answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var callerAudio = await caller.InvokeAsync(() => caller.Audio!);
        var calleeAudio = await callee.InvokeAsync(() => callee.Audio!);

        try
        {
            await Task.WhenAll(callerAudio.IceCompletion, calleeAudio.IceCompletion).WaitAsync(TimeSpan.FromSeconds(10));
            await Task.WhenAll(callerAudio.DtlsCompletion, calleeAudio.DtlsCompletion).WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            foreach (var entry in host.Logs.Entries)
                TestContext.Out.WriteLine($"{entry.Id.Id} {entry.Message} {entry.Exception?.Message}");
        }
        Assert.That(await caller.InvokeAsync(() => callerAudio.Codec), Is.EqualTo(endpoint.Webrtc ? "opus" : "PCMU"));

        // RFC 4733 events go out encrypted, the callee's echo sees them decrypted and sends them back.
        await caller.SendDtmfAsync("159#");
        var echoed = new List<char>();
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            while (echoed.Count < 4)
                echoed.Add((await caller.Dtmf.ReadAsync(wait.Token)).Digit);
        }
        Assert.That(new string([.. echoed]), Is.EqualTo("159#"));
        Assert.That(await callee.InvokeAsync(() => calleeAudio.EchoReceivedPackets), Is.GreaterThan(0));
        Assert.That(host.Logs.Entries.Count(e => e.Id.Id == 7204), Is.EqualTo(2), "DTLS negotiated on both sides (event 7204)");
        await caller.HangupAsync();
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task Hold_and_resume_keep_ice_and_dtls_and_media_flows_again()
    {
        var answered = new TaskCompletionSource<SipSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", async (call, ended) =>
        {
            await call.InvokeAsync(() => call.Audio!.StartEcho());
            await call.AnswerAsync();
            answered.TrySetResult(call);
            await UntilEnded(ended);
        }), endpoint: WebRtcEndpoint);
        var caller = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:echo@{host.Target}", Endpoint = WebRtcEndpoint });
        Assert.That(await caller.Answered.WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(200));
        var callerAudio = await caller.InvokeAsync(() => caller.Audio!);
        await callerAudio.DtlsCompletion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.That(await caller.HoldAsync().WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(200));
        Assert.That(await caller.ResumeAsync().WaitAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(200));
        var offer = await (await answered.Task).InvokeAsync(() => answered.Task.Result.RemoteSdp);
        Assert.That(offer, Does.Contain("UDP/TLS/RTP/SAVPF").And.Contain("a=sendrecv"), "the re-offer keeps the profile");

        await caller.SendDtmfAsync("7");
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.That((await caller.Dtmf.ReadAsync(wait.Token)).Digit, Is.EqualTo('7'), "echoed through SRTP after the re-INVITEs");
        Assert.That(host.Logs.Entries.Count(e => e.Id.Id is 7203 or 7205), Is.Zero, "no ICE or DTLS failure");
        await caller.HangupAsync();
        await host.WaitForNoSessionsAsync();
    }

    private static async Task UntilEnded(CancellationToken ended)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, ended);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void AssertWebRtcAttributes(string sdp) => Assert.Multiple(() =>
    {
        Assert.That(sdp, Does.Match(@"a=fingerprint:(sha|SHA)-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}"));
        Assert.That(sdp, Does.Match("a=setup:(actpass|active|passive)"));
        Assert.That(sdp, Does.Match(@"a=ice-ufrag:\S+"));
        Assert.That(sdp, Does.Match(@"a=ice-pwd:\S+"));
        Assert.That(sdp, Does.Match(@"a=candidate:\S+ 1 (UDP|udp) \d+ 127\.0\.0\.1 \d+ typ host"));
        Assert.That(sdp, Does.Contain("a=rtcp-mux"));
        Assert.That(sdp, Does.Contain("opus/48000/2"));
    });
}
