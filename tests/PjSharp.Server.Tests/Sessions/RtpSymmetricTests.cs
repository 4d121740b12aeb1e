using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary><c>rtp_symmetric</c>: RTP goes back where it comes from, or to the address in the peer's SDP.</summary>
[CancelAfter(60_000)]
public class RtpSymmetricTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [TestCase(true)]
    [TestCase(false)]
    public async Task Echoed_rtp_follows_the_source_only_with_rtp_symmetric(bool symmetric)
    {
        var session = new TaskCompletionSource<SipSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("echo", async (call, ended) =>
        {
            await call.InvokeAsync(() => call.Audio!.StartEcho());
            await call.AnswerAsync();
            session.TrySetResult(call);
            await done.Task.WaitAsync(TimeSpan.FromSeconds(20), ended);
            await call.HangupAsync();
        }), endpoint: SessionTestHost.DefaultEndpoint with { RtpSymmetric = symmetric });
        // The caller's SDP names one socket; its RTP comes from another (as from behind a NAT).
        using var announced = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var source = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var run = host.RunSippAsync("call-rtp-server-bye-uac.xml", "echo",
            extra: ["-key", "rtp_port", ((IPEndPoint)announced.Client.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture)]);
        var call = await session.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var server = new IPEndPoint(IPAddress.Loopback, call.Audio!.LocalPort);

        var toSource = CountAsync(source, TimeSpan.FromSeconds(3));
        var toAnnounced = CountAsync(announced, TimeSpan.FromSeconds(3));
        var packet = new byte[172];
        packet[0] = 0x80;
        for (ushort sequence = 0; sequence < 40; sequence++)
        {
            packet[2] = (byte)(sequence >> 8);
            packet[3] = (byte)sequence;
            await source.SendAsync(packet, server);
            await Task.Delay(20);
        }
        var (atSource, atAnnounced) = (await toSource, await toAnnounced);
        done.SetResult();
        var result = await run;

        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        if (symmetric)
        {
            // pjmedia switches to the source after a probation of 10 packets from it.
            Assert.That(atSource, Is.GreaterThanOrEqualTo(20), "echoes returned to the source");
        }
        else
        {
            Assert.That(atAnnounced, Is.GreaterThanOrEqualTo(35), "echoes sent to the SDP address");
            Assert.That(atSource, Is.Zero, "nothing to the source");
        }
    }

    private static async Task<int> CountAsync(UdpClient socket, TimeSpan window)
    {
        var count = 0;
        using var stop = new CancellationTokenSource(window);
        try
        {
            while (true)
            {
                await socket.ReceiveAsync(stop.Token);
                count++;
            }
        }
        catch (OperationCanceledException)
        {
            return count;
        }
    }
}
