using System.Net;
using System.Net.Sockets;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Calls to the applications of <c>pjsharp serve</c>, with real RTP, from SIPp.</summary>
[NonParallelizable]
public class ServeCallTests
{
    private const string SippAudio = "/usr/share/sip-tester/g711a.pcap";
    private ServerProcess _server = null!;

    [OneTimeSetUp]
    public async Task StartServerAsync()
    {
        SipTestServer.RequireSipp();
        _server = await SipTestServer.StartAsync(["udp:127.0.0.1:0"]);
    }

    [OneTimeTearDown]
    public async Task StopServerAsync()
    {
        if (_server != null)
            await _server.DisposeAsync();
    }

    private string Target => _server.Endpoint("udp").HostPort;

    private SippOptions Call(string scenario, string service, int calls = 1, double rate = 10, params string[] extra) => new()
    {
        Scenario = Path.IsPathRooted(scenario) ? scenario : SippRunner.Scenario(scenario),
        Target = Target,
        Service = service,
        MaxCalls = calls,
        Rate = rate,
        Timeout = TimeSpan.FromSeconds(calls / rate + 30),
        TraceErrors = true,
        ExtraArguments = extra,
    };

    [Test]
    public async Task Echo_sends_back_the_rtp_it_receives()
    {
        Assert.That(File.Exists(SippAudio), $"{SippAudio} comes with Debian's sip-tester, which the Test target installs");
        using var media = new RtpSink();
        var sipp = SippRunner.RunAsync(Call("call-media-uac.xml", "echo", extra: ["-d", "3000", "-key", "rtp_port", media.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-key", "pcap", SippAudio]));
        var received = await media.CollectUntilAsync(sipp);
        var result = await sipp;

        Assert.That(result.Successful, Is.EqualTo(1), result.ToString());
        // SIPp plays 30 ms PCMA packets for the 3 s the call lasts: about 100 of them.
        Assert.That(received.Count, Is.GreaterThanOrEqualTo(60), "RTP packets echoed");
        Assert.That(received.Select(p => p.PayloadType).Distinct(), Is.EqualTo(new[] { 8 }), "echoed as received: PCMA");
    }

    [Test]
    public async Task Playback_answers_plays_its_file_and_hangs_up()
    {
        using var media = new RtpSink();
        var sipp = SippRunner.RunAsync(Call("call-playback-uac.xml", "playback", extra: ["-key", "rtp_port", media.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
        var received = await media.CollectUntilAsync(sipp);
        var result = await sipp;

        Assert.That(result.Successful, Is.EqualTo(1), "the server hangs up after the file: " + result);
        // The bundled tone is 1.5 s: 75 packets of 20 ms PCMU.
        Assert.That(received.Count, Is.InRange(60, 90), "RTP packets played");
        Assert.That(received.Select(p => p.PayloadType).Distinct(), Is.EqualTo(new[] { 0 }), "PCMU, as negotiated");
        Assert.That(received.Count(p => p.Payload.Any(b => b != 0xFF && b != 0x7F)), Is.GreaterThan(50), "a tone, not silence");
    }

    [Test]
    public async Task A_call_to_an_unknown_target_is_answered_404()
    {
        using var rejected = SessionTestHost.RejectedScenario(404);
        var result = await SippRunner.RunAsync(Call(rejected.Path, "nobody-here"));
        Assert.That(result.Successful, Is.EqualTo(1), result.ToString());
    }

    [Test]
    public async Task Five_hundred_simultaneous_calls_to_echo_all_succeed()
    {
        // 100 new calls a second, each held 6 s: all 500 are up at once before the first ends.
        var result = await SippRunner.RunAsync(Call("call-uac.xml", "echo", calls: 500, rate: 100, "-d", "6000", "-l", "600"));
        Assert.That(result.Successful, Is.EqualTo(500), result.ToString());
        Assert.That(result.Failed, Is.Zero, result.ToString());
    }

    [Test]
    public async Task Stopping_the_server_ends_calls_in_progress_with_bye_and_exits_cleanly()
    {
        await using var server = await SipTestServer.StartAsync(["udp:127.0.0.1:0"]);
        // Two calls that would last 20 s; the server is stopped after 2 s and must say BYE to both.
        var sipp = SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("call-server-bye-uac.xml"),
            Target = server.Endpoint("udp").HostPort,
            Service = "echo",
            MaxCalls = 2,
            Rate = 10,
            Timeout = TimeSpan.FromSeconds(30),
            TraceErrors = true,
        });
        await Task.Delay(TimeSpan.FromSeconds(2));
        var stop = await server.StopAsync(TimeSpan.FromSeconds(15));
        var result = await sipp;
        Assert.That(stop.ExitCode, Is.Zero, server.OutputTail());
        Assert.That(result.Successful, Is.EqualTo(2), "both callers got a BYE: " + result);
    }
}
