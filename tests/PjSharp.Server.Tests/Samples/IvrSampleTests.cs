using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Samples;

/// <summary>samples/Ivr: answers, plays its menu as RTP, and acts on keys sent as RFC 4733 events or SIP INFO.</summary>
[NonParallelizable]
[CancelAfter(90_000)]
public sealed class IvrSampleTests
{
    [SetUp]
    public void RequireSipp() => SipTestServer.RequireSipp();

    [Test]
    public async Task The_menu_is_played_as_rtp_1_plays_it_again_and_2_hangs_up()
    {
        await using var sample = await RunningSample.StartAsync("Ivr");
        // SIPp signals; the media port in its offer is this socket, which hears the menu and presses the keys.
        using var rtp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var rtpPort = ((IPEndPoint)rtp.Client.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture);
        var call = sample.RunSippAsync(SippRunner.Scenario("call-rtp-server-bye-uac.xml"), "ivr", extra: ["-key", "rtp_port", rtpPort]);

        var (tonePackets, ivr) = await ReceiveMenuAsync(rtp, packets: 25);
        Assert.That(tonePackets, Is.GreaterThanOrEqualTo(25), "the menu arrives as PCMU that is not silence");
        await sample.WaitForOutputAsync("playing the menu");

        var keypad = new RtpSender(rtp, ivr);
        await keypad.SendAudioAsync(5);
        await keypad.SendEventAsync('1');
        await sample.WaitForOutputAsync(@"digit 1 \(Rfc4733\)");
        await sample.WaitForOutputAsync("playing the menu", occurrences: 2);
        while (rtp.Available > 0)
            _ = await rtp.ReceiveAsync(); // what was on its way before the replay
        var (replayed, _) = await ReceiveMenuAsync(rtp, packets: 10);
        Assert.That(replayed, Is.GreaterThanOrEqualTo(10), "the menu is played again");

        await keypad.SendEventAsync('2');
        var result = await call;

        Assert.That(result.Successful, Is.EqualTo(1), () => sample.Describe(result));
        await sample.WaitForOutputAsync(@"digit 2 \(Rfc4733\)");
    }

    [Test]
    public async Task The_sipp_caller_of_the_readme_presses_1_as_rfc4733_and_2_in_sip_info_and_is_hung_up_on()
    {
        await using var sample = await RunningSample.StartAsync("Ivr");

        var result = await sample.RunSippAsync(RunningSample.Scenario("Ivr", "ivr-uac.xml"), "ivr");

        Assert.That(result.Successful, Is.EqualTo(1), () => sample.Describe(result));
        await sample.WaitForOutputAsync(@"digit 1 \(Rfc4733\)");
        await sample.WaitForOutputAsync("playing the menu", occurrences: 2);
        await sample.WaitForOutputAsync(@"digit 2 \(SipInfo\)");
        Assert.That(sample.Output, Does.Not.Contain("no choice made"));
    }

    /// <summary>
    /// Counts PCMU packets carrying sound (not the silence byte) until <paramref name="packets"/> have come;
    /// also returns where they came from: the IVR's RTP socket.
    /// </summary>
    private static async Task<(int Count, IPEndPoint From)> ReceiveMenuAsync(UdpClient rtp, int packets)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var count = 0;
        IPEndPoint? from = null;
        try
        {
            while (count < packets)
            {
                var received = await rtp.ReceiveAsync(timeout.Token);
                var packet = received.Buffer;
                if (packet.Length <= 12 || (packet[1] & 0x7F) != 0)
                    continue;
                from = received.RemoteEndPoint;
                if (packet.AsSpan(12).ContainsAnyExcept((byte)0xFF, (byte)0x7F))
                    count++;
            }
        }
        catch (OperationCanceledException)
        {
        }
        return (count, from ?? throw new AssertionException("no RTP came from the IVR"));
    }
}
