using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>RTP as a phone sends it: PCMU every 20 ms, and RFC 4733 events with growing durations and three end packets.</summary>
internal sealed class RtpSender(UdpClient socket, IPEndPoint target)
{
    /// <summary>The payload type the test offers for telephone-event.</summary>
    public const int TelephoneEvent = 101;

    private const int SamplesPerPacket = 160;
    private readonly uint _ssrc = (uint)Random.Shared.Next();
    private ushort _sequence = (ushort)Random.Shared.Next(ushort.MaxValue);
    private uint _timestamp = (uint)Random.Shared.Next();
    private bool _first = true;

    public async Task SendAudioAsync(int packets)
    {
        var silence = new byte[SamplesPerPacket];
        Array.Fill(silence, (byte)0xFF);
        for (var i = 0; i < packets; i++)
        {
            await SendAsync(0, _first, _timestamp, silence);
            _first = false;
            _timestamp += SamplesPerPacket;
            await Task.Delay(20);
        }
    }

    public async Task SendEventAsync(char digit, int updates = 5)
    {
        var code = (byte)"0123456789*#ABCD".IndexOf(digit, StringComparison.Ordinal);
        var start = _timestamp;
        var duration = 0;
        for (var i = 0; i < updates; i++)
        {
            duration += SamplesPerPacket;
            await SendAsync(TelephoneEvent, i == 0, start, Event(code, end: false, duration));
            await Task.Delay(20);
        }
        for (var i = 0; i < 3; i++)
        {
            await SendAsync(TelephoneEvent, false, start, Event(code, end: true, duration));
            await Task.Delay(20);
        }
        _timestamp += (uint)duration;
    }

    private static byte[] Event(byte code, bool end, int duration)
    {
        var payload = new byte[4];
        payload[0] = code;
        payload[1] = (byte)((end ? 0x80 : 0) | 10);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), (ushort)duration);
        return payload;
    }

    private async Task SendAsync(int payloadType, bool marker, uint timestamp, byte[] payload)
    {
        var packet = new byte[12 + payload.Length];
        packet[0] = 0x80;
        packet[1] = (byte)((marker ? 0x80 : 0) | payloadType);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), _sequence++);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), _ssrc);
        payload.CopyTo(packet, 12);
        await socket.SendAsync(packet, target);
    }
}
