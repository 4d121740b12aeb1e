using System.Buffers;
using System.Buffers.Binary;
using System.Threading.Channels;

namespace PjSharp.Interception.Trace;

/// <summary>
/// Writes SIP messages to a classic pcap file (link type RAW: IPv4 and IPv6 packets) as UDP
/// datagrams, which sngrep, tshark and Wireshark open. Messages carried over TCP or TLS are
/// written as UDP too: the file shows the SIP, not the stream. Writing happens on a background
/// task; when it falls behind, messages are dropped and counted rather than queued without bound.
/// </summary>
public sealed class PcapWriter : IAsyncDisposable
{
    private const int LinkTypeRaw = 101;
    private const int MaxPayload = 65_507;
    private readonly Channel<(byte[] Buffer, int Length)> _queue;
    private readonly FileStream _file;
    private readonly Task _writer;
    private long _dropped;
    private long _written;

    public PcapWriter(string path, int queueCapacity = 8192)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        Span<byte> header = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(header, 0xa1b2c3d4);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], 65_535);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], LinkTypeRaw);
        _file.Write(header);
        _file.Flush();
        Path = path;
        _queue = Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(queueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        });
        _writer = Task.Run(WriteLoopAsync);
    }

    public string Path { get; }

    /// <summary>Messages not written because the writer fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public long Written => Interlocked.Read(ref _written);

    /// <summary>Queues one message as a UDP datagram from source to destination; false when dropped.</summary>
    public bool TryWrite(SourceAddress source, int sourcePort, SourceAddress destination, int destinationPort, ReadOnlySpan<byte> payload, DateTimeOffset time)
    {
        payload = payload.Length > MaxPayload ? payload[..MaxPayload] : payload;
        var ipv4 = source.IsIPv4Mapped && destination.IsIPv4Mapped;
        var ipHeader = ipv4 ? 20 : 40;
        var packetLength = ipHeader + 8 + payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(16 + packetLength);
        var frame = buffer.AsSpan(0, 16 + packetLength);
        var microseconds = time.ToUnixTimeMilliseconds() * 1000 + (time.Ticks / 10 % 1000);
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(microseconds / 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], (uint)(microseconds % 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(frame[8..], (uint)packetLength);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[12..], (uint)packetLength);
        var packet = frame[16..];
        if (ipv4)
        {
            packet[..20].Clear();
            packet[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)packetLength);
            packet[6] = 0x40; // don't fragment
            packet[8] = 64;
            packet[9] = 17;
            source.WriteBytes(packet[12..]);
            destination.WriteBytes(packet[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(packet[10..], Checksum(packet[..20]));
        }
        else
        {
            packet[..40].Clear();
            packet[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)(8 + payload.Length));
            packet[6] = 17;
            packet[7] = 64;
            WriteIPv6(source, packet[8..]);
            WriteIPv6(destination, packet[24..]);
        }
        var udp = packet[ipHeader..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
        payload.CopyTo(udp[8..]);
        if (_queue.Writer.TryWrite((buffer, frame.Length)))
            return true;
        ArrayPool<byte>.Shared.Return(buffer);
        Interlocked.Increment(ref _dropped);
        return false;
    }

    // An IPv4 address in an IPv6 packet is written IPv4-mapped.
    private static void WriteIPv6(SourceAddress address, Span<byte> destination)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.WriteBytes(bytes) == 4)
        {
            destination[..10].Clear();
            destination[10] = 0xff;
            destination[11] = 0xff;
            bytes[..4].CopyTo(destination[12..]);
        }
        else
        {
            bytes.CopyTo(destination);
        }
    }

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (var i = 0; i < header.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum >> 16 != 0)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    private async Task WriteLoopAsync()
    {
        await foreach (var (buffer, length) in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await _file.WriteAsync(buffer.AsMemory(0, length)).ConfigureAwait(false);
                Interlocked.Increment(ref _written);
                if (_queue.Reader.Count == 0)
                    await _file.FlushAsync().ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Writes what is queued and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        await _file.FlushAsync().ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }
}
