using System.Globalization;
using System.Net;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Bridging;

/// <summary>
/// Registered phones calling each other through <c>pjsharp serve</c>: SIPp phones register with
/// digest authentication, one calls (authenticated), the other answers; the server bridges them.
/// Each test has its own called user, so registrations do not meet.
/// </summary>
[NonParallelizable]
public class BridgeTests
{
    private const string Audio = "/usr/share/sip-tester/g711a.pcap";
    private const string Rfc4733Digits = "/usr/share/sip-tester/dtmf_2833_1.pcap";
    private RegistrarTestServer _server = null!;

    [OneTimeSetUp]
    public async Task StartServerAsync()
    {
        SipTestServer.RequireSipp();
        // Relayed media for the phones of most tests; quinn, peggy and rupert allow direct media (Asterisk's default).
        var phones = RegistrarTestServer.Phones(users: ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "karl", "mallory", "niaj", "olivia"])
            .Replace("[phone](!)\ntype=endpoint\ncontext=default\n", "[phone](!)\ntype=endpoint\ncontext=default\ndirect_media=no\n", StringComparison.Ordinal);
        Assert.That(phones, Does.Contain("direct_media=no"));
        foreach (var user in new[] { "quinn", "peggy", "rupert", "xavier" })
            phones += $"\n[{user}]\ntype=endpoint\ncontext=default\nauth={user}\naors={user}\ndirect_media={(user == "xavier" ? "no" : "yes")}\n\n[{user}]\ntype=auth\nusername={user}\npassword=secret-{user}\n\n[{user}]\ntype=aor\nmax_contacts=5\n";
        // trent's contacts are qualified: one that never answers OPTIONS is not rung.
        phones += "\n[trent]\ntype=endpoint\ncontext=default\nauth=trent\naors=trent\n\n[trent]\ntype=auth\nusername=trent\npassword=secret-trent\n\n"
            + "[trent]\ntype=aor\nmax_contacts=5\nqualify_frequency=30\nqualify_timeout=0.5\n";
        // victor presents the configured caller id; wendy's endpoint asks for P-Asserted-Identity.
        phones += "\n[victor]\ntype=endpoint\ncontext=default\nauth=victor\naors=victor\ncallerid=\"Front Desk\" <100>\n\n[victor]\ntype=auth\nusername=victor\npassword=secret-victor\n\n[victor]\ntype=aor\nmax_contacts=5\n"
            + "\n[wendy]\ntype=endpoint\ncontext=default\nauth=wendy\naors=wendy\nsend_pai=yes\n\n[wendy]\ntype=auth\nusername=wendy\npassword=secret-wendy\n\n[wendy]\ntype=aor\nmax_contacts=5\n";
        // yvonne registers through a proxy (Path).
        phones += "\n[yvonne]\ntype=endpoint\ncontext=default\nauth=yvonne\naors=yvonne\n\n[yvonne]\ntype=auth\nusername=yvonne\npassword=secret-yvonne\n\n"
            + "[yvonne]\ntype=aor\nmax_contacts=5\nsupport_path=yes\n";
        _server = await RegistrarTestServer.StartAsync(phones,
            new Dictionary<string, string?> { ["PJSHARP__PjSharp__Sessions__RingTimeout"] = "00:00:03" }, "--log-level", "Debug");
    }

    [OneTimeTearDown]
    public async Task StopServerAsync()
    {
        if (_server != null)
            await _server.DisposeAsync();
    }

    private IPEndPoint Server => _server.Udp;

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// <summary>alice calls <paramref name="callee"/> with <paramref name="scenario"/>, authenticating.</summary>
    private Task<SippResult> CallAsync(string scenario, string callee, params string[] extra) => CallAsAsync("alice", scenario, callee, extra);

    private Task<SippResult> CallAsAsync(string caller, string scenario, string callee, params string[] extra) => SippRunner.RunAsync(new SippOptions
    {
        Scenario = Path.IsPathRooted(scenario) ? scenario : SippRunner.Scenario(scenario),
        Target = $"127.0.0.1:{Server.Port}",
        Service = callee,
        Timeout = TimeSpan.FromSeconds(40),
        TraceErrors = true,
        ExtraArguments = ["-au", caller, "-ap", $"secret-{caller}", "-key", "caller", caller, .. extra],
    });

    [Test]
    public async Task A_registered_phone_calls_another_and_audio_is_relayed_both_ways()
    {
        await using var bob = await SippPhone.RegisterAsync(Server, "bob");
        using var callerMedia = new RtpSink();
        using var calleeMedia = new RtpSink();
        var callee = await bob.AnswerAsync("bridge-callee-uas.xml", Server, "-key", "rtp_port", Port(calleeMedia.Port), "-key", "pcap", Audio);
        var caller = CallAsync("bridge-caller-uac.xml", "bob", "-d", "3000", "-key", "rtp_port", Port(callerMedia.Port), "-key", "pcap", Audio);
        var toCaller = callerMedia.CollectUntilAsync(caller);
        var toCallee = calleeMedia.CollectUntilAsync(caller);
        var result = await caller;
        var answered = await callee.Completion.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.That(result.Successful, Is.EqualTo(1), "caller: " + result.Describe() + "\n" + _server.Output);
        Assert.That(answered.Successful, Is.EqualTo(1), "callee (saw the caller as \"Alice\", got the BYE): " + answered.Describe());
        // Each side plays PCMA for the call's 3 s: about 100 packets each way.
        Assert.That((await toCallee).Count, Is.GreaterThanOrEqualTo(60), "RTP from the caller reached the callee");
        Assert.That((await toCaller).Count, Is.GreaterThanOrEqualTo(60), "RTP from the callee reached the caller");
        Assert.That((await toCallee).Select(p => p.PayloadType).Distinct(), Is.EqualTo(new[] { 8 }), "relayed as sent: PCMA");
    }

    [Test]
    public async Task The_called_phone_hangs_up_and_the_caller_gets_a_bye()
    {
        await using var carol = await SippPhone.RegisterAsync(Server, "carol");
        using var media = new RtpSink();
        var callee = await carol.AnswerAsync("bridge-callee-bye-uas.xml", Server, "-d", "1000", "-key", "rtp_port", Port(media.Port));
        var result = await CallAsync("bridge-caller-waits-uac.xml", "carol", "-key", "rtp_port", Port(media.Port));
        var answered = await callee.Completion.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.That(result.Successful, Is.EqualTo(1), "the caller got the BYE: " + result.Describe());
        Assert.That(answered.Successful, Is.EqualTo(1), "the callee's BYE was answered: " + answered.Describe());
    }

    [Test]
    public async Task Forking_rings_every_contact_the_first_answer_wins_and_the_others_are_cancelled()
    {
        await using var desk = await SippPhone.RegisterAsync(Server, "dave");
        await using var mobile = await SippPhone.RegisterAsync(Server, "dave");
        using var media = new RtpSink();
        var answering = await desk.AnswerAsync("bridge-callee-uas.xml", Server, "-key", "rtp_port", Port(media.Port), "-key", "pcap", Audio);
        var ringing = await mobile.AnswerAsync("call-uas-no-answer.xml", Server);
        var result = await CallAsync("bridge-caller-uac.xml", "dave", "-d", "1000", "-key", "rtp_port", Port(media.Port), "-key", "pcap", Audio);

        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        Assert.That((await answering.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "the desk phone answered and got the BYE");
        var cancelled = await ringing.Completion.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(cancelled.Successful, Is.EqualTo(1), "the mobile was cancelled: " + cancelled.Describe());
    }

    [TestCase("erin", "call-uas-busy.xml", 486, TestName = "A busy phone makes the caller hear 486")]
    [TestCase("frank", "call-uas-no-answer.xml", 480, TestName = "A phone that does not answer is cancelled after the ring timeout and the caller gets 480")]
    public async Task Refusals_of_the_called_phone_reach_the_caller(string user, string scenario, int status)
    {
        await using var phone = await SippPhone.RegisterAsync(Server, user);
        var callee = await phone.AnswerAsync(scenario, Server);
        using var rejected = SippScenario.Load("bridge-caller-rejected-uac.xml").Replace("\"STATUS\"", $"\"{status}\"");
        var result = await CallAsync(rejected.Path, user, "-key", "rtp_port", "4000");

        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        Assert.That((await callee.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "the phone's side completed (486 acknowledged, or CANCEL received)");
    }

    [Test]
    public async Task Hold_resume_info_dtmf_and_message_are_carried_across_the_bridge()
    {
        await using var grace = await SippPhone.RegisterAsync(Server, "grace");
        using var media = new RtpSink();
        var callee = await grace.AnswerAsync("bridge-callee-actions-uas.xml", Server, "-key", "rtp_port", Port(media.Port));
        var result = await CallAsync("bridge-caller-actions-uac.xml", "grace", "-key", "rtp_port", Port(media.Port));
        var answered = await callee.Completion.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.That(result.Successful, Is.EqualTo(1), "caller: " + result.Describe());
        Assert.That(answered.Successful, Is.EqualTo(1), "callee got sendonly, sendrecv, INFO 5, the MESSAGE and BYE: " + answered.Describe() + "\n" + _server.Output);
    }

    [Test]
    public async Task Rfc4733_digits_pass_through_the_relay()
    {
        await using var heidi = await SippPhone.RegisterAsync(Server, "heidi");
        using var callerMedia = new RtpSink();
        using var calleeMedia = new RtpSink();
        var callee = await heidi.AnswerAsync("bridge-callee-uas.xml", Server, "-key", "rtp_port", Port(calleeMedia.Port), "-key", "pcap", Audio);
        var caller = CallAsync("bridge-caller-uac.xml", "heidi", "-d", "2000", "-key", "rtp_port", Port(callerMedia.Port), "-key", "pcap", Rfc4733Digits);
        var received = await calleeMedia.CollectUntilAsync(caller);

        Assert.That((await caller).Successful, Is.EqualTo(1));
        Assert.That((await callee.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1));
        Assert.That(received.Count(p => p.PayloadType == 101), Is.GreaterThan(0), "telephone-event packets reached the callee");
    }

    [Test]
    public async Task Blind_transfer_connects_the_other_party_to_the_refer_target_and_notifies_the_transferor()
    {
        await using var judy = await SippPhone.RegisterAsync(Server, "judy");
        await using var karl = await SippPhone.RegisterAsync(Server, "karl");
        using var judyMedia = new RtpSink();
        using var karlMedia = new RtpSink();
        // judy (called by alice) plays audio the whole time; after the transfer karl hears it, then hangs up.
        var transferee = await judy.AnswerAsync("bridge-callee-uas.xml", Server, "-key", "rtp_port", Port(judyMedia.Port), "-key", "pcap", Audio);
        var target = await karl.AnswerAsync("bridge-callee-bye-uas.xml", Server, "-d", "1500", "-key", "rtp_port", Port(karlMedia.Port));
        var heard = karlMedia.CollectUntilAsync(target.Completion);
        var transferor = await CallAsync("bridge-caller-refer-uac.xml", "judy", "-key", "rtp_port", "4000",
            "-key", "refer_to", $"sip:karl@127.0.0.1:{Server.Port}");

        Assert.That(transferor.Successful, Is.EqualTo(1), "alice got 202, NOTIFY 100, NOTIFY 200 and a BYE: " + transferor.Describe() + "\n" + _server.Output);
        Assert.That((await target.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "karl was called and hung up");
        Assert.That((await transferee.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "judy got karl's BYE");
        Assert.That((await heard).Count, Is.GreaterThan(10), "judy's audio reached karl after the transfer");
    }

    [Test]
    public async Task Attended_transfer_with_replaces_joins_the_two_other_parties()
    {
        await using var niaj = await SippPhone.RegisterAsync(Server, "niaj");
        await using var olivia = await SippPhone.RegisterAsync(Server, "olivia");
        using var media = new RtpSink();
        var dialogFile = Path.Combine(Path.GetTempPath(), $"pjsharp-consult-{Guid.NewGuid():N}.txt");
        try
        {
            // alice calls olivia first (the consultation), then niaj, and transfers niaj to olivia's call.
            var second = await olivia.AnswerAsync("bridge-callee-bye-uas.xml", Server, "-d", "4000", "-key", "rtp_port", Port(media.Port));
            var consult = CallAsync("bridge-caller-consult-uac.xml", "olivia", "-key", "rtp_port", "4002", "-key", "dialog_file", dialogFile);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!(File.Exists(dialogFile) && (await File.ReadAllTextAsync(dialogFile)).Trim().Split(';').Length == 3) && DateTime.UtcNow < deadline && !consult.IsCompleted)
                await Task.Delay(50);
            var parts = (await File.ReadAllTextAsync(dialogFile)).Trim().Split(';');
            Assert.That(parts, Has.Length.EqualTo(3), "the consultation call was answered");
            var replaces = Uri.EscapeDataString($"{parts[0]};to-tag={parts[1]};from-tag={parts[2]}");

            var first = await niaj.AnswerAsync("bridge-callee-uas.xml", Server, "-key", "rtp_port", Port(media.Port), "-key", "pcap", Audio);
            var transferor = await CallAsync("bridge-caller-refer-uac.xml", "niaj", "-key", "rtp_port", "4004",
                "-key", "refer_to", $"sip:olivia@127.0.0.1:{Server.Port}?Replaces={replaces}");

            Assert.That(transferor.Successful, Is.EqualTo(1), "alice's first call: 202, NOTIFY 100, NOTIFY 200, BYE: " + transferor.Describe() + "\n" + _server.Output);
            Assert.That((await consult).Successful, Is.EqualTo(1), "alice's consultation call got a BYE");
            Assert.That((await second.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "olivia hung up the joined call");
            Assert.That((await first.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "niaj got olivia's BYE: they were joined");
        }
        finally
        {
            File.Delete(dialogFile);
        }
    }

    [Test]
    public async Task With_direct_media_the_sdp_passes_end_to_end_and_hold_is_carried_as_a_reoffer()
    {
        await using var peggy = await SippPhone.RegisterAsync(Server, "peggy");
        await using var rupert = await SippPhone.RegisterAsync(Server, "rupert");
        using var callerMedia = new RtpSink();
        using var calleeMedia = new RtpSink();
        // peggy must see quinn's own RTP port in the offer: the server put none of its own in.
        using var callee = SippScenario.Load("bridge-callee-uas.xml")
            .Replace("m=audio [0-9]+ RTP/AVP ([0-9]+)", $"m=audio {callerMedia.Port} RTP/AVP ([0-9]+)");
        var answering = await peggy.AnswerAsync(callee.Path, Server, "-key", "rtp_port", Port(calleeMedia.Port), "-key", "pcap", Audio);
        var caller = CallAsAsync("quinn", "bridge-caller-uac.xml", "peggy", "-d", "2000", "-key", "rtp_port", Port(callerMedia.Port), "-key", "pcap", Audio);
        var toCallee = calleeMedia.CollectUntilAsync(caller);
        var result = await caller;
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe() + "\n" + _server.Output);
        Assert.That((await answering.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "peggy got quinn's SDP unchanged");
        Assert.That((await toCallee).Count, Is.GreaterThanOrEqualTo(40), "quinn's RTP reached peggy directly");

        using var media = new RtpSink();
        var actions = await rupert.AnswerAsync("bridge-callee-actions-uas.xml", Server, "-key", "rtp_port", Port(media.Port));
        var held = await CallAsAsync("quinn", "bridge-caller-actions-uac.xml", "rupert", "-key", "rtp_port", Port(media.Port));
        Assert.That(held.Successful, Is.EqualTo(1), held.Describe());
        Assert.That((await actions.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1), "rupert got the hold, resume, INFO and MESSAGE");
    }

    [Test]
    public async Task A_contact_that_qualify_found_unreachable_is_not_rung()
    {
        // trent registers from a port where nothing listens afterwards: the OPTIONS sent at once goes unanswered.
        await using var trent = await SippPhone.RegisterAsync(Server, "trent");
        using var rejected = SippScenario.Load("bridge-caller-rejected-uac.xml").Replace("\"STATUS\"", "\"480\"");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!_server.Output.Split('\n').Any(l => l.Contains("Contact trent;@", StringComparison.Ordinal) && l.Contains("is unreachable", StringComparison.Ordinal))
            && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        var result = await CallAsync(rejected.Path, "trent", "-key", "rtp_port", "4000");

        Assert.That(result.Successful, Is.EqualTo(1), result.Describe() + "\n" + _server.Output);
        Assert.That(_server.Output, Does.Contain("to 'trent' not bridged: 480 (the dial plan gave no target)"), "refused without ringing the dead contact");
    }

    [Test]
    public async Task The_callers_configured_caller_id_is_presented_to_the_called_phone()
    {
        await using var wendy = await SippPhone.RegisterAsync(Server, "wendy");
        using var media = new RtpSink();
        using var callee = SippScenario.Load("bridge-callee-uas.xml")
            .Replace("regexp=\"\\\"Alice\\\" &lt;sip:\" search_in=\"hdr\" header=\"From:\"", "regexp=\"\\\"Front Desk\\\" &lt;sip:100@\" search_in=\"hdr\" header=\"From:\"")
            .Replace("<Reference variables=\"offer,caller\" />",
                "<Reference variables=\"offer,caller,asserted\" />")
            .Replace("assign_to=\"caller\" />", "assign_to=\"caller\" />\n      <ereg regexp=\"\\\"Front Desk\\\" &lt;sip:100@\" search_in=\"hdr\" header=\"P-Asserted-Identity:\" check_it=\"true\" assign_to=\"asserted\" />");
        Assert.That(File.ReadAllText(callee.Path), Does.Contain("Front Desk").And.Contain("P-Asserted-Identity"));
        var answering = await wendy.AnswerAsync(callee.Path, Server, "-key", "rtp_port", Port(media.Port), "-key", "pcap", Audio);
        var result = await CallAsAsync("victor", "bridge-caller-uac.xml", "wendy", "-d", "500", "-key", "rtp_port", Port(media.Port), "-key", "pcap", Audio);

        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        var answered = await answering.Completion.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(answered.Successful, Is.EqualTo(1), "From and P-Asserted-Identity showed \"Front Desk\" <sip:100@...>: " + answered.Describe());
    }

    [Test]
    public async Task Early_media_from_the_called_phone_reaches_the_caller_in_a_183()
    {
        await using var xavier = await SippPhone.RegisterAsync(Server, "xavier");
        using var callerMedia = new RtpSink();
        using var calleeMedia = new RtpSink();
        var callee = await xavier.AnswerAsync("bridge-callee-early-uas.xml", Server, "-key", "rtp_port", Port(calleeMedia.Port), "-key", "pcap", Audio);
        using var caller = SippScenario.Load("bridge-caller-uac.xml").Replace("""
              <recv response="180" optional="true" />
              <recv response="183" optional="true" />
              <recv response="200" rtd="true" />
            """, """
              <recv response="183">
                <action>
                  <ereg regexp="m=audio [1-9][0-9]* RTP/AVP" search_in="body" check_it="true" assign_to="early" />
                </action>
              </recv>
              <recv response="200" rtd="true" />
              <Reference variables="early" />
            """);
        Assert.That(File.ReadAllText(caller.Path), Does.Contain("assign_to=\"early\""));
        var call = CallAsync(caller.Path, "xavier", "-d", "500", "-key", "rtp_port", Port(callerMedia.Port), "-key", "pcap", Audio);
        var heard = callerMedia.CollectUntilAsync(call);
        var result = await call;

        Assert.That(result.Successful, Is.EqualTo(1), "a 183 with SDP came before the 200: " + result.Describe() + "\n" + _server.Output);
        Assert.That((await callee.Completion.WaitAsync(TimeSpan.FromSeconds(20))).Successful, Is.EqualTo(1));
        Assert.That((await heard).Count, Is.GreaterThanOrEqualTo(40), "the ringing phone's audio was relayed to the caller");
    }

    [Test]
    public async Task A_contact_registered_with_a_path_is_called_through_it()
    {
        // The "proxy" is SIPp on its own port: the INVITE must reach it, with the Path as its Route, not the phone.
        var proxyPort = SippRunner.FreeUdpPort();
        var proxy = $"<sip:127.0.0.1:{proxyPort};lr>";
        using var phone = _server.Phone("yvonne");
        var registered = await phone.RegisterAsync(headers: [$"Path: {proxy}", "Supported: path"]);
        Assert.That(registered, Does.StartWith("SIP/2.0 200"), registered);

        using var media = new RtpSink();
        using var scenario = SippScenario.Load("bridge-callee-uas.xml").Replace(
            "assign_to=\"caller\" />",
            $"assign_to=\"caller\" />\n      <ereg regexp=\"127.0.0.1:{proxyPort};lr\" search_in=\"hdr\" header=\"Route:\" check_it=\"true\" assign_to=\"routed\" />")
            .Replace("<Reference variables=\"offer,caller\" />", "<Reference variables=\"offer,caller,routed\" />");
        await using var run = SippRunner.Start(new SippOptions
        {
            Scenario = scenario.Path,
            Target = $"127.0.0.1:{Server.Port}",
            LocalPort = proxyPort,
            Timeout = TimeSpan.FromSeconds(30),
            TraceErrors = true,
            ExtraArguments = ["-key", "rtp_port", Port(media.Port), "-key", "pcap", Audio],
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!SippRunner.IsListening(proxyPort) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        var result = await CallAsync("bridge-caller-uac.xml", "yvonne", "-d", "500", "-key", "rtp_port", Port(media.Port), "-key", "pcap", Audio);

        Assert.That(result.Successful, Is.EqualTo(1), result.Describe() + "\n" + _server.Output);
        var routed = await run.Completion.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(routed.Successful, Is.EqualTo(1), "the INVITE came through the path, with its Route: " + routed.Describe());
    }

    [TestCase("nobody", 404, TestName = "A call to a user with no AOR gets 404")]
    [TestCase("ivan", 480, TestName = "A call to an AOR with no registered contact gets 480")]
    public async Task Calls_that_cannot_be_bridged_are_refused(string callee, int status)
    {
        using var rejected = SippScenario.Load("bridge-caller-rejected-uac.xml").Replace("\"STATUS\"", $"\"{status}\"");
        var result = await CallAsync(rejected.Path, callee, "-key", "rtp_port", "4000");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
    }
}
