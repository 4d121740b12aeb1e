using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using PjSharp.Interception;
using PjSharp.Interception.Trace;

namespace PjSharp.Tests.Interception.Trace;

/// <summary>HEPv3 encoding of what the SIP trace cannot easily produce over loopback UDP: IPv6, TCP, time.</summary>
[CancelAfter(20_000)]
public sealed class HepSenderTests
{
    private static Dictionary<int, byte[]> Chunks(byte[] packet)
    {
        var chunks = new Dictionary<int, byte[]>();
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(4)), Is.EqualTo(packet.Length));
        for (var at = 6; at < packet.Length;)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(at + 4));
            chunks[BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(at + 2))] = packet.AsSpan(at + 6, length - 6).ToArray();
            at += length;
        }
        return chunks;
    }

    [Test]
    public async Task Ipv6_over_tcp_carries_16_byte_addresses_protocol_6_and_the_time_to_the_microsecond()
    {
        using var collector = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        await using var sender = new HepSender((IPEndPoint)collector.Client.LocalEndPoint!, captureId: 7);
        var source = SourceAddress.FromIPAddress(IPAddress.Parse("2001:db8::1"));
        var destination = SourceAddress.FromIPAddress(IPAddress.Parse("2001:db8::2"));
        var time = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1_234_560);

        Assert.That(sender.TrySend(source, 5061, destination, 40000, "TCP6", "BYE sip:x SIP/2.0\r\n\r\n"u8, time), Is.True);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var chunks = Chunks((await collector.ReceiveAsync(timeout.Token)).Buffer);
        Assert.Multiple(() =>
        {
            Assert.That(chunks[1], Is.EqualTo(new byte[] { 10 }), "IPv6");
            Assert.That(chunks[2], Is.EqualTo(new byte[] { 6 }), "TCP");
            Assert.That(new IPAddress(chunks[5]), Is.EqualTo(IPAddress.Parse("2001:db8::1")));
            Assert.That(new IPAddress(chunks[6]), Is.EqualTo(IPAddress.Parse("2001:db8::2")));
            Assert.That(chunks.ContainsKey(3), Is.False, "no IPv4 chunk");
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(chunks[7]), Is.EqualTo(5061));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(chunks[8]), Is.EqualTo(40000));
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(chunks[9]), Is.EqualTo((uint)time.ToUnixTimeSeconds()));
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(chunks[10]), Is.EqualTo(123_456u));
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(chunks[12]), Is.EqualTo(7u));
            Assert.That(System.Text.Encoding.ASCII.GetString(chunks[15]), Is.EqualTo("BYE sip:x SIP/2.0\r\n\r\n"));
        });
    }

    [Test]
    public void Address_parses_host_and_port_and_refuses_a_missing_port()
    {
        Assert.That(HepSender.ParseAddress("127.0.0.1:9060"), Is.EqualTo(new IPEndPoint(IPAddress.Loopback, 9060)));
        Assert.That(HepSender.ParseAddress("[::1]:9060"), Is.EqualTo(new IPEndPoint(IPAddress.IPv6Loopback, 9060)));
        Assert.That(HepSender.ParseAddress("localhost:9060").Port, Is.EqualTo(9060));
        Assert.Throws<FormatException>(() => HepSender.ParseAddress("127.0.0.1"));
    }
}
