using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace PjSharp.Interception.Trace;

/// <summary>
/// Sends traced SIP messages to a HEP collector (Homer, heplify-server, sngrep -L) over UDP as
/// HEPv3 packets: address family, transport protocol, source and destination address and port,
/// capture time, protocol type SIP, the capture agent id and the message. Sending happens on a
/// background task; when it falls behind, messages are dropped and counted rather than queued
/// without bound. A collector that is down costs nothing but the dropped datagrams.
/// </summary>
public sealed class HepSender : IAsyncDisposable
{
    /// <summary>The biggest SIP message carried whole; longer ones are cut (UDP's limit, less the HEP header).</summary>
    private const int MaxPayload = 65_000;
    private const int ChunkHeader = 6;

    private readonly Channel<(byte[] Buffer, int Length)> _queue;
    private readonly Socket _socket;
    private readonly Task _sender;
    private long _dropped;
    private long _sent;

    /// <summary>Sends to <paramref name="collector"/>, tagging each packet with <paramref name="captureId"/>.</summary>
    public HepSender(IPEndPoint collector, uint captureId = 0, int queueCapacity = 8192)
    {
        ArgumentNullException.ThrowIfNull(collector);
        Collector = collector;
        CaptureId = captureId;
        _socket = new Socket(collector.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Connect(collector);
        _queue = Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(queueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        });
        _sender = Task.Run(SendLoopAsync);
    }

    /// <summary>Parses <c>host:port</c> (or <c>[v6]:port</c>), resolving a host name once.</summary>
    public static IPEndPoint ParseAddress(string address)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        if (IPEndPoint.TryParse(address, out var endPoint) && endPoint.Port != 0)
            return endPoint;
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(address.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture, out var port) || port == 0)
            throw new FormatException($"'{address}' is not host:port");
        var host = address[..colon];
        var resolved = Dns.GetHostAddresses(host);
        if (resolved.Length == 0)
            throw new FormatException($"'{host}' does not resolve");
        return new IPEndPoint(Array.Find(resolved, a => a.AddressFamily == AddressFamily.InterNetwork) ?? resolved[0], port);
    }

    public IPEndPoint Collector { get; }

    public uint CaptureId { get; }

    /// <summary>Messages not sent because the sender fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Queues one message from source to destination; false when dropped.</summary>
    public bool TrySend(SourceAddress source, int sourcePort, SourceAddress destination, int destinationPort, string transport,
        ReadOnlySpan<byte> payload, DateTimeOffset time)
    {
        payload = payload.Length > MaxPayload ? payload[..MaxPayload] : payload;
        var ipv4 = source.IsIPv4Mapped && destination.IsIPv4Mapped;
        var addressLength = ipv4 ? 4 : 16;
        var length = 6                                  // "HEP3" and the total length
            + (ChunkHeader + 1) * 2                     // family, protocol
            + (ChunkHeader + addressLength) * 2         // source and destination address
            + (ChunkHeader + 2) * 2                     // ports
            + (ChunkHeader + 4) * 2                     // seconds, microseconds
            + ChunkHeader + 1                           // protocol type
            + ChunkHeader + 4                           // capture agent id
            + ChunkHeader + payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        var packet = buffer.AsSpan(0, length);
        "HEP3"u8.CopyTo(packet);
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)length);
        var at = 6;
        at += Byte(packet[at..], 1, ipv4 ? (byte)2 : (byte)10);
        at += Byte(packet[at..], 2, IsStream(transport) ? (byte)6 : (byte)17);
        at += Address(packet[at..], ipv4 ? (ushort)3 : (ushort)5, source, ipv4);
        at += Address(packet[at..], ipv4 ? (ushort)4 : (ushort)6, destination, ipv4);
        at += UInt16(packet[at..], 7, (ushort)sourcePort);
        at += UInt16(packet[at..], 8, (ushort)destinationPort);
        var microseconds = (time.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
        at += UInt32(packet[at..], 9, (uint)(microseconds / 1_000_000));
        at += UInt32(packet[at..], 10, (uint)(microseconds % 1_000_000));
        at += Byte(packet[at..], 11, 1);
        at += UInt32(packet[at..], 12, CaptureId);
        Header(packet[at..], 15, payload.Length);
        payload.CopyTo(packet[(at + ChunkHeader)..]);
        if (_queue.Writer.TryWrite((buffer, length)))
            return true;
        ArrayPool<byte>.Shared.Return(buffer);
        Interlocked.Increment(ref _dropped);
        return false;
    }

    private static bool IsStream(string transport) =>
        transport.StartsWith("TCP", StringComparison.OrdinalIgnoreCase) || transport.StartsWith("TLS", StringComparison.OrdinalIgnoreCase)
        || transport.StartsWith("WS", StringComparison.OrdinalIgnoreCase);

    private static void Header(Span<byte> chunk, ushort type, int valueLength)
    {
        BinaryPrimitives.WriteUInt16BigEndian(chunk, 0); // generic vendor
        BinaryPrimitives.WriteUInt16BigEndian(chunk[2..], type);
        BinaryPrimitives.WriteUInt16BigEndian(chunk[4..], (ushort)(ChunkHeader + valueLength));
    }

    private static int Byte(Span<byte> chunk, ushort type, byte value)
    {
        Header(chunk, type, 1);
        chunk[ChunkHeader] = value;
        return ChunkHeader + 1;
    }

    private static int UInt16(Span<byte> chunk, ushort type, ushort value)
    {
        Header(chunk, type, 2);
        BinaryPrimitives.WriteUInt16BigEndian(chunk[ChunkHeader..], value);
        return ChunkHeader + 2;
    }

    private static int UInt32(Span<byte> chunk, ushort type, uint value)
    {
        Header(chunk, type, 4);
        BinaryPrimitives.WriteUInt32BigEndian(chunk[ChunkHeader..], value);
        return ChunkHeader + 4;
    }

    private static int Address(Span<byte> chunk, ushort type, SourceAddress address, bool ipv4)
    {
        var length = ipv4 ? 4 : 16;
        Header(chunk, type, length);
        var value = chunk.Slice(ChunkHeader, length);
        Span<byte> bytes = stackalloc byte[16];
        var written = address.WriteBytes(bytes);
        if (written == length)
        {
            bytes[..length].CopyTo(value);
        }
        else
        {
            // An IPv4 peer beside an IPv6 one: written IPv4-mapped.
            value[..10].Clear();
            value[10] = 0xff;
            value[11] = 0xff;
            bytes[..4].CopyTo(value[12..]);
        }
        return ChunkHeader + length;
    }

    private async Task SendLoopAsync()
    {
        await foreach (var (buffer, length) in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await _socket.SendAsync(buffer.AsMemory(0, length), SocketFlags.None).ConfigureAwait(false);
                Interlocked.Increment(ref _sent);
            }
            catch (SocketException)
            {
                // No collector listening (ICMP unreachable) or a full buffer: the message is lost, as on the wire.
                Interlocked.Increment(ref _dropped);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Sends what is queued and closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _sender.ConfigureAwait(false);
        _socket.Dispose();
    }
}
