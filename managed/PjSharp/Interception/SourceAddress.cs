using System.Net;
using System.Net.Sockets;
using PjSharp.Interop;

namespace PjSharp.Interception;

/// <summary>
/// A request's source IP address as a value: IPv4 kept as IPv4-mapped IPv6, so one 16-byte key
/// serves both families without allocating. It can also stand for an IPv6 prefix: a host holds a
/// whole /64, so a limiter counting per address would let it rotate through 2^64 of them.
/// </summary>
public readonly struct SourceAddress : IEquatable<SourceAddress>
{
    private readonly ulong _high;
    private readonly ulong _low;
    // Host bits cleared by WithIPv6Prefix; 0 for a whole address.
    private readonly byte _clearedBits;

    private SourceAddress(ulong high, ulong low, byte clearedBits = 0)
    {
        _high = high;
        _low = low;
        _clearedBits = clearedBits;
    }

    public static SourceAddress FromBytes(ReadOnlySpan<byte> address)
    {
        Span<byte> mapped = stackalloc byte[16];
        if (address.Length == 4)
        {
            mapped[10] = 0xff;
            mapped[11] = 0xff;
            address.CopyTo(mapped[12..]);
        }
        else if (address.Length == 16)
        {
            address.CopyTo(mapped);
        }
        else
        {
            throw new ArgumentException("An IP address has 4 or 16 bytes.", nameof(address));
        }
        return new SourceAddress(
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(mapped),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(mapped[8..]));
    }

    /// <summary>
    /// Whether the first <paramref name="prefixLength"/> of this address's 128 bits (IPv4 addresses IPv4-mapped, so a
    /// /24 is 96 + 24) equal those of <paramref name="network"/>.
    /// </summary>
    public bool SharesPrefix(SourceAddress network, int prefixLength)
    {
        if (prefixLength <= 0)
            return true;
        if (prefixLength >= 128)
            return _high == network._high && _low == network._low;
        if (prefixLength <= 64)
        {
            var mask = prefixLength == 64 ? ulong.MaxValue : ~(ulong.MaxValue >> prefixLength);
            return (_high & mask) == (network._high & mask);
        }
        var lowMask = ~(ulong.MaxValue >> (prefixLength - 64));
        return _high == network._high && (_low & lowMask) == (network._low & lowMask);
    }

    public static SourceAddress FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return FromBytes(bytes[..written]);
    }

    internal static unsafe SourceAddress FromPacket(pjsip_rx_data* rdata) =>
        FromSocketAddress(&rdata->pkt_info.src_addr, rdata->pkt_info.src_addr_len);

    internal static unsafe SourceAddress FromSocketAddress(pj_sockaddr* address, int length)
    {
        var raw = (byte*)address;
        // pj_sockaddr_in keeps the address at byte 4, pj_sockaddr_in6 at byte 8.
        return length >= 28
            ? FromBytes(new ReadOnlySpan<byte>(raw + 8, 16))
            : FromBytes(new ReadOnlySpan<byte>(raw + 4, 4));
    }

    public bool IsIPv4Mapped => _high == 0 && (_low >> 32) == 0xffff;

    /// <summary>This IPv6 address cut to its first <paramref name="prefixLength"/> bits; IPv4 addresses stay whole.</summary>
    public SourceAddress WithIPv6Prefix(int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 128);
        var cleared = 128 - prefixLength;
        if (IsIPv4Mapped || cleared <= _clearedBits)
            return this;
        var highMask = prefixLength >= 64 ? ulong.MaxValue : prefixLength == 0 ? 0 : ulong.MaxValue << (64 - prefixLength);
        var lowMask = prefixLength <= 64 ? 0 : ulong.MaxValue << (128 - prefixLength);
        return new SourceAddress(_high & highMask, _low & lowMask, (byte)cleared);
    }

    /// <summary>A hash keyed by <paramref name="seed"/>, so that positions in a limiter's table cannot be predicted.</summary>
    internal int Hash(ulong seed) => HashCode.Combine(seed, _high, _low, _clearedBits);

    /// <summary>Writes the address's bytes (4 for IPv4, 16 for IPv6); returns how many.</summary>
    public int WriteBytes(Span<byte> destination)
    {
        Span<byte> all = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(all, _high);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(all[8..], _low);
        if (IsIPv4Mapped)
        {
            all[12..].CopyTo(destination);
            return 4;
        }
        all.CopyTo(destination);
        return 16;
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        var length = WriteBytes(bytes);
        return new IPAddress(bytes[..length]);
    }

    /// <summary>True when the address lies in <paramref name="network"/> (IPv4 networks match IPv4 addresses).</summary>
    public bool IsIn(IPNetwork network)
    {
        var family = network.BaseAddress.AddressFamily;
        if ((family == AddressFamily.InterNetwork) != IsIPv4Mapped)
            return false;
        Span<byte> bytes = stackalloc byte[16];
        Span<byte> prefix = stackalloc byte[16];
        var length = WriteBytes(bytes);
        network.BaseAddress.TryWriteBytes(prefix, out _);
        var bits = network.PrefixLength;
        for (var i = 0; i < length && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xff : (byte)(0xff << (8 - bits));
            if ((bytes[i] & mask) != (prefix[i] & mask))
                return false;
        }
        return true;
    }

    public bool Equals(SourceAddress other) => _high == other._high && _low == other._low && _clearedBits == other._clearedBits;

    public override bool Equals(object? obj) => obj is SourceAddress other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_high, _low, _clearedBits);

    public static bool operator ==(SourceAddress left, SourceAddress right) => left.Equals(right);

    public static bool operator !=(SourceAddress left, SourceAddress right) => !left.Equals(right);

    /// <summary><c>10.0.0.1</c>, <c>2001:db8::1</c>, or <c>2001:db8:1:2::/64</c> for a prefix.</summary>
    public override string ToString() =>
        _clearedBits > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ToIPAddress()}/{128 - _clearedBits}") : ToIPAddress().ToString();
}
