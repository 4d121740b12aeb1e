using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Samples;

/// <summary>samples/SdpHandler: an SDP handler for m=text accepts T.140 in the 200 and logs the text sent to its port.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class SdpHandlerSampleTests
{
    private const int T140 = 98;

    [SetUp]
    public void RequireSipp() => SipTestServer.RequireSipp();

    [Test]
    public async Task An_offered_text_stream_is_accepted_in_the_200_and_the_text_sent_to_it_is_logged()
    {
        await using var sample = await RunningSample.StartAsync("SdpHandler");
        // The scenario checks the 200 (m=text on a port, t140); the call stays up 3 s while the test types.
        var call = sample.RunSippAsync(RunningSample.Scenario("SdpHandler", "text-call-uac.xml"), "echo", extra: ["-d", "3000"]);

        var opened = await sample.WaitForOutputAsync(@"real-time text on port (\d+)");
        var port = int.Parse(opened.Groups[1].Value, CultureInfo.InvariantCulture);
        using (var text = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            await text.SendAsync(T140Packet(sequence: 1, "\uFEFF"), new IPEndPoint(IPAddress.Loopback, port));
            await text.SendAsync(T140Packet(sequence: 2, "hello, pjsharp"), new IPEndPoint(IPAddress.Loopback, port));
        }
        await sample.WaitForOutputAsync("text \"hello, pjsharp\"");
        var result = await call;

        Assert.That(result.Successful, Is.EqualTo(1), () => sample.Describe(result));
        Assert.That(sample.Output, Does.Not.Contain("text \"\""), "the keep-alive byte order mark is no text");
    }

    /// <summary>An RTP packet of the T.140 payload type (RFC 4103) carrying <paramref name="text"/> in UTF-8.</summary>
    private static byte[] T140Packet(ushort sequence, string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var packet = new byte[12 + payload.Length];
        packet[0] = 0x80;
        packet[1] = T140;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), sequence * 300u);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), 0x7E57_7E57);
        payload.CopyTo(packet, 12);
        return packet;
    }
}
