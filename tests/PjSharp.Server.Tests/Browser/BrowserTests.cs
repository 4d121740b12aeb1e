using Microsoft.Playwright;
using PjSharp.Server.Tests.Bridging;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Browser;

/// <summary>A real browser: Debian's Chromium, headless, with SIP.js from npm and fake audio devices.</summary>
[NonParallelizable]
public class BrowserTests
{
    private BrowserHost _browser = null!;
    private RegistrarTestServer _server = null!;
    private TlsTestCertificate _certificate = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        if (BrowserHost.Missing() is { } missing)
            Assert.Fail(missing);
        SipTestServer.RequireSipp();
        _browser = await BrowserHost.StartAsync();
        // erin's endpoint is a WebRTC one (webrtc=yes: ICE, DTLS-SRTP, rtcp-mux, AVPF, Opus).
        var erin = "\n[erin]\ntype=endpoint\ncontext=default\nauth=erin\naors=erin\nwebrtc=yes\nallow=opus,alaw,ulaw\n\n"
            + "[erin]\ntype=auth\nusername=erin\npassword=secret-erin\n\n[erin]\ntype=aor\nmax_contacts=5\nremove_existing=yes\n";
        // WSS, as browsers on the web need: the server's certificate is a test authority's, which the browser is told to accept.
        _certificate = TlsTestCertificate.Create();
        _server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(more: erin),
            "--transport", "wss:127.0.0.1:0", "--tls-cert", _certificate.ServerCertificateFile, "--tls-key", _certificate.ServerKeyFile, "--log-level", "Debug");
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_browser != null)
            await _browser.DisposeAsync();
        if (_server != null)
            await _server.DisposeAsync();
        _certificate?.Dispose();
    }

    private string WebSocketUri => $"wss://127.0.0.1:{_server.Process.Endpoint("wss").EndPoint.Port}/ws";

    /// <summary>A browser phone registered as <paramref name="user"/> over secure WebSocket with digest authentication.</summary>
    private async Task<IPage> RegisteredPhoneAsync(string user)
    {
        var page = await _browser.OpenPhoneAsync();
        var state = await page.EvaluateAsync<string>("([server, user, password]) => window.phone.register(server, user, password, '127.0.0.1')",
            new[] { WebSocketUri, user, $"secret-{user}" });
        Assert.That(state, Is.EqualTo("Registered"), "the browser's REGISTER was challenged and accepted\n" + _server.Output);
        return page;
    }

    [Test]
    public async Task The_page_loads_sip_js_and_hears_the_fake_microphone()
    {
        var page = await _browser.OpenPhoneAsync();
        var version = await page.EvaluateAsync<string>("() => window.phone.version");
        var level = await page.EvaluateAsync<double>("() => window.phone.microphoneLevel()");

        var installed = File.ReadAllText(Path.Combine(BrowserHost.Root, "node_modules", "sip.js", "lib", "version.js"));
        Assert.That(installed, Does.Contain($"\"{version}\""), "the SIP.js npm installed, loaded as ES modules");
        Assert.That(level, Is.GreaterThan(0.01), "Chromium's fake microphone plays a tone");
    }

    [Test]
    public async Task A_browser_registers_over_wss_with_digest_auth_and_its_contact_is_bound_to_the_socket()
    {
        var page = await RegisteredPhoneAsync("carol");
        // SIP.js names its contact with a random user at a .invalid host: the row of AOR carol shows the connection instead.
        var row = ShowContacts().Split('\n').FirstOrDefault(l => l.Contains("carol;@", StringComparison.Ordinal));
        Assert.That(row, Does.Contain("@127.0.0.1:").And.Contain("transport=wss").And.Not.Contain(".invalid"), "the .invalid contact is bound to the connection");

        await page.Context.CloseAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (ShowContacts().Contains("carol;@", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.That(ShowContacts(), Does.Not.Contain("carol;@"), "closing the page closes its socket and removes the binding");
    }

    [Test]
    public async Task A_browser_sends_a_message_to_a_sipp_phone_and_receives_one_from_it()
    {
        var page = await RegisteredPhoneAsync("alice");
        await using var bob = await SippPhone.RegisterAsync(_server.Udp, "bob");
        var receiving = await bob.AnswerAsync("message-uas.xml", _server.Udp, "-key", "text", "browser-says-hello");

        var status = await page.EvaluateAsync<int>("(target) => window.phone.message(target, 'browser-says-hello from alice')", "sip:bob@127.0.0.1");
        Assert.That(status, Is.EqualTo(200), "the MESSAGE reached bob and bob accepted it\n" + _server.Output);
        Assert.That((await receiving.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "bob's SIPp got the text");

        using var scenario = SippScenario.Load("message-auth-uac.xml")
            .Set("FROM", "bob").Set("PASSWORD", "secret-bob").Set("TO", "alice")
            .Set("CONTENT_TYPE", "text/plain").Set("BODY", "sipp-says-hello").Set("STATUS", "200");
        var sent = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = scenario.Path,
            Target = $"127.0.0.1:{_server.Udp.Port}",
            Timeout = TimeSpan.FromSeconds(20),
            TraceErrors = true,
        });
        Assert.That(sent.Successful, Is.EqualTo(1), "the browser accepted bob's MESSAGE: " + sent.Describe());
        var received = await page.EvaluateAsync<string>("() => JSON.stringify(window.phone.events.filter(e => e.type === 'message'))");
        Assert.That(received, Does.Contain("sipp-says-hello").And.Contain("sip:bob@"), "the page saw the message and its sender");
    }

    [Test]
    public async Task A_browser_calls_echo_over_webrtc_and_hears_its_own_audio_back()
    {
        var page = await RegisteredPhoneAsync("erin");
        var state = await page.EvaluateAsync<string>("(target) => window.phone.call(target)", "sip:echo@127.0.0.1");
        Assert.That(state, Is.EqualTo("Established"), _server.Output);

        // The fake microphone's tone goes out over DTLS-SRTP and comes back from echo.
        await Task.Delay(3000);
        var media = System.Text.Json.JsonSerializer.Deserialize<MediaFigures>(
            await page.EvaluateAsync<string>("async () => JSON.stringify(await window.phone.media())"), JsonFromPage)!;
        TestContext.Out.WriteLine($"browser sent {media.PacketsSent} RTP packets, received {media.PacketsReceived}, codec {media.Codec}, audio level {media.AudioLevel:0.000}, total audio energy {media.TotalAudioEnergy:0.000000}");
        await page.EvaluateAsync("() => window.phone.hangup()");

        Assert.That(media.PacketsSent, Is.GreaterThan(50), "the browser sent audio");
        Assert.That(media.PacketsReceived, Is.GreaterThan(50), "echo sent it back, decrypted by the browser\n" + _server.Output);
        Assert.That(media.TotalAudioEnergy, Is.GreaterThan(0), "what came back is the fake microphone's tone, not silence");
    }

    [Test]
    public async Task A_sipp_phone_calls_the_browser_which_answers_and_receives_its_audio_through_the_bridge()
    {
        var page = await RegisteredPhoneAsync("erin");
        await page.EvaluateAsync("() => { window.phone.autoAnswer = true; }");
        using var media = new RtpSink();
        // alice (SIPp, plain RTP) calls erin (the browser, WebRTC): the bridge relays between the two kinds of media.
        var caller = SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("bridge-caller-uac.xml"),
            Target = $"127.0.0.1:{_server.Udp.Port}",
            Service = "erin",
            Timeout = TimeSpan.FromSeconds(40),
            TraceErrors = true,
            ExtraArguments = ["-au", "alice", "-ap", "secret-alice", "-key", "caller", "alice", "-d", "4000",
                "-key", "rtp_port", media.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-key", "pcap", "/usr/share/sip-tester/g711a.pcap"],
        });
        var fromBrowser = media.CollectUntilAsync(caller);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!(await page.EvaluateAsync<bool>("() => window.phone.events.some(e => e.type === 'answered')")) && DateTime.UtcNow < deadline && !caller.IsCompleted)
            await Task.Delay(100);
        await Task.Delay(2000);
        var figures = System.Text.Json.JsonSerializer.Deserialize<MediaFigures>(
            await page.EvaluateAsync<string>("async () => JSON.stringify(await window.phone.media())"), JsonFromPage)!;
        TestContext.Out.WriteLine($"browser received {figures.PacketsReceived} RTP packets ({figures.Codec}), sent {figures.PacketsSent}");
        var result = await caller;

        Assert.That(result.Successful, Is.EqualTo(1), "the browser answered and the call completed: " + result.Describe() + "\n" + _server.Output);
        Assert.That(figures.PacketsReceived, Is.GreaterThan(50), "SIPp's audio reached the browser over DTLS-SRTP");
        Assert.That((await fromBrowser).Count, Is.GreaterThan(50), "the browser's audio reached SIPp as plain RTP");
    }

    [Test]
    public async Task A_browser_that_vanishes_mid_call_ends_its_call_and_the_server_keeps_serving()
    {
        var vanishing = await RegisteredPhoneAsync("erin");
        Assert.That(await vanishing.EvaluateAsync<string>("(target) => window.phone.call(target)", "sip:echo@127.0.0.1"), Is.EqualTo("Established"));
        var callId = await vanishing.EvaluateAsync<string>("() => window.phone.session.request.callId");

        // The page goes without a BYE: its socket closes under the call.
        await vanishing.Context.CloseAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!_server.Output.Split('\n').Any(l => l.Contains(callId, StringComparison.Ordinal) && l.Contains("ended", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.That(_server.Output, Does.Contain($"Call {callId} (Inbound) ended"), "the call ended with its socket");

        var next = await RegisteredPhoneAsync("erin");
        Assert.That(await next.EvaluateAsync<string>("(target) => window.phone.call(target)", "sip:echo@127.0.0.1"), Is.EqualTo("Established"), "the server keeps serving");
        await Task.Delay(1500);
        var media = System.Text.Json.JsonSerializer.Deserialize<MediaFigures>(
            await next.EvaluateAsync<string>("async () => JSON.stringify(await window.phone.media())"), JsonFromPage)!;
        await next.EvaluateAsync("() => window.phone.hangup()");
        Assert.That(media.PacketsReceived, Is.GreaterThan(20), "the new call's audio comes back");
    }

    private static readonly System.Text.Json.JsonSerializerOptions JsonFromPage = new(System.Text.Json.JsonSerializerDefaults.Web);

    private sealed record MediaFigures(int PacketsSent, int PacketsReceived, double AudioLevel, double TotalAudioEnergy, string Codec);

    private string ShowContacts() => Qualify.ServeQualifyTests.Show(_server.ConfigFile, _server.Database).Output;
}
