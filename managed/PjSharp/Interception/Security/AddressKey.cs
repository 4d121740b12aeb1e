using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace PjSharp.Interception.Security;

/// <summary>
/// A source IP address as a 16-byte value, IPv4 held as IPv4-mapped IPv6, so limiters can key
/// tables on it without allocating. Optionally an IPv6 prefix: a host holds a whole /64, so
/// counting per address would let it rotate through 2^64 of them.
/// </summary>
internal readonly struct AddressKey : IEquatable<AddressKey>
{
    private const ulong MappedPrefix = 0x0000_FFFF_0000_0000;

    private readonly ulong _high;
    private readonly ulong _low;
    private readonly byte _prefixLength;

    private AddressKey(ulong high, ulong low, byte prefixLength)
    {
        _high = high;
        _low = low;
        _prefixLength = prefixLength;
    }

    public bool IsIPv4 => _high == 0 && (_low & 0xFFFF_FFFF_0000_0000) == MappedPrefix;

    /// <summary>From 4 (IPv4) or 16 (IPv6) network-order bytes.</summary>
    public static AddressKey From(ReadOnlySpan<byte> address)
    {
        if (address.Length == 4)
            return new AddressKey(0, MappedPrefix | BinaryPrimitives.ReadUInt32BigEndian(address), 128);
        if (address.Length == 16)
            return new AddressKey(BinaryPrimitives.ReadUInt64BigEndian(address), BinaryPrimitives.ReadUInt64BigEndian(address[8..]), 128);
        throw new ArgumentException("An IP address is 4 or 16 bytes long.", nameof(address));
    }

    public static AddressKey From(SourceAddress source)
    {
        Span<byte> bytes = stackalloc byte[16];
        return From(bytes[..source.WriteBytes(bytes)]);
    }

    public static AddressKey From(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written))
            throw new ArgumentException("Not an IPv4 or IPv6 address.", nameof(address));
        return From(bytes[..written]);
    }

    /// <summary>This IPv6 address cut to its first <paramref name="prefixLength"/> bits; IPv4 addresses stay whole.</summary>
    public AddressKey WithIPv6Prefix(int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 128);
        if (IsIPv4 || prefixLength >= _prefixLength)
            return this;
        var highMask = prefixLength >= 64 ? ulong.MaxValue : prefixLength == 0 ? 0 : ulong.MaxValue << (64 - prefixLength);
        var lowMask = prefixLength <= 64 ? 0 : ulong.MaxValue << (128 - prefixLength);
        return new AddressKey(_high & highMask, _low & lowMask, (byte)prefixLength);
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, _high);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], _low);
        return IsIPv4 ? new IPAddress(bytes[12..]) : new IPAddress(bytes);
    }

    /// <summary><c>10.0.0.1</c>, <c>2001:db8::1</c>, or <c>2001:db8:1:2::/64</c> for a prefix.</summary>
    public override string ToString()
    {
        var address = ToIPAddress();
        return address.AddressFamily == AddressFamily.InterNetworkV6 && _prefixLength < 128 ? $"{address}/{_prefixLength}" : address.ToString();
    }

    /// <summary>A hash keyed by <paramref name="seed"/>, so that table positions cannot be predicted.</summary>
    internal int Hash(ulong seed) => HashCode.Combine(seed, _high, _low, _prefixLength);

    public bool Equals(AddressKey other) => _high == other._high && _low == other._low && _prefixLength == other._prefixLength;

    public override bool Equals(object? obj) => obj is AddressKey other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_high, _low, _prefixLength);

    public static bool operator ==(AddressKey left, AddressKey right) => left.Equals(right);

    public static bool operator !=(AddressKey left, AddressKey right) => !left.Equals(right);
}
