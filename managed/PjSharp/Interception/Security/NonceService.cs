using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;

namespace PjSharp.Interception.Security;

/// <summary>What <see cref="NonceService.Verify"/> found.</summary>
internal enum NonceStatus
{
    /// <summary>Issued by us for this realm, and within its lifetime.</summary>
    Valid,

    /// <summary>Issued by us for this realm but expired: challenge again with <c>stale=true</c>.</summary>
    Stale,

    /// <summary>Not ours: forged, garbled, for another realm, or dated in the future.</summary>
    Invalid,
}

/// <summary>
/// Stateless nonces: <c>base64url(timestamp || serial || HMAC-SHA256(secret, timestamp || serial || realm)[..17])</c>,
/// the timestamp being 8 big-endian bytes of Unix milliseconds and the serial 8 bytes that make
/// every challenge's nonce its own (two users challenged in the same millisecond must not share
/// one, or the nonce-count check would take the second for a replay). Nothing is stored per nonce, so
/// challenges cost no memory and any node sharing the secret can check them. The caller passes
/// the time (e.g. <c>TimeProvider.GetUtcNow().ToUnixTimeMilliseconds()</c>). Thread-safe.
/// </summary>
internal sealed class NonceService
{
    /// <summary>Length of every nonce this service creates, in bytes (base64url characters).</summary>
    public const int NonceLength = 44;

    private const int TimestampLength = 8;
    private const int SerialLength = 8;
    private const int SignedLength = TimestampLength + SerialLength;
    // 33 raw bytes encode to 44 characters with no spare bits, so every character counts.
    private const int MacLength = 17;
    private const int RawLength = SignedLength + MacLength;
    private const int StackRealmLength = 256;

    private readonly byte[] _secret;
    private readonly long _maxClockSkewMs;
    private long _serial = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));

    /// <summary>A service with a fresh random 32-byte secret: nonces from an earlier process are refused.</summary>
    public NonceService()
        : this(RandomNumberGenerator.GetBytes(32))
    {
    }

    /// <param name="secret">At least 16 bytes; nodes that share it accept each other's nonces.</param>
    /// <param name="maxClockSkewMs">How far in the future a nonce may be dated (clock differences between nodes).</param>
    public NonceService(ReadOnlySpan<byte> secret, long maxClockSkewMs = 5_000)
    {
        if (secret.Length < 16)
            throw new ArgumentException("The nonce secret must be at least 16 bytes long.", nameof(secret));
        ArgumentOutOfRangeException.ThrowIfNegative(maxClockSkewMs);
        _secret = secret.ToArray();
        _maxClockSkewMs = maxClockSkewMs;
    }

    /// <summary>Writes a nonce for <paramref name="realm"/> issued at <paramref name="nowMs"/>; returns <see cref="NonceLength"/>.</summary>
    public int Create(Span<byte> destination, ReadOnlySpan<byte> realm, long nowMs)
    {
        if (destination.Length < NonceLength)
            throw new ArgumentException($"The destination must hold {NonceLength} bytes.", nameof(destination));
        Span<byte> raw = stackalloc byte[RawLength];
        BinaryPrimitives.WriteInt64BigEndian(raw, nowMs);
        BinaryPrimitives.WriteInt64BigEndian(raw[TimestampLength..], Interlocked.Increment(ref _serial));
        ComputeMac(raw[..SignedLength], realm, raw[SignedLength..]);
        return Base64Url.EncodeToUtf8(raw, destination);
    }

    /// <inheritdoc cref="Verify(ReadOnlySpan{byte}, ReadOnlySpan{byte}, long, int, out long)"/>
    public NonceStatus Verify(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> realm, long nowMs, int lifetimeSeconds) =>
        Verify(nonce, realm, nowMs, lifetimeSeconds, out _);

    /// <summary>Checks a nonce a client sent back, in constant time with respect to the MAC.</summary>
    /// <param name="issuedAtMs">When an authentic nonce was issued (what <see cref="NonceCountTracker"/> needs); 0 if invalid.</param>
    public NonceStatus Verify(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> realm, long nowMs, int lifetimeSeconds, out long issuedAtMs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lifetimeSeconds);
        issuedAtMs = 0;
        if (nonce.Length != NonceLength)
            return NonceStatus.Invalid;
        Span<byte> raw = stackalloc byte[RawLength];
        if (Base64Url.DecodeFromUtf8(nonce, raw, out var consumed, out var written) != OperationStatus.Done
            || consumed != NonceLength || written != RawLength)
            return NonceStatus.Invalid;

        Span<byte> expected = stackalloc byte[MacLength];
        ComputeMac(raw[..SignedLength], realm, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, raw[SignedLength..]))
            return NonceStatus.Invalid;

        var issued = BinaryPrimitives.ReadInt64BigEndian(raw);
        if (issued > nowMs + _maxClockSkewMs)
            return NonceStatus.Invalid;
        issuedAtMs = issued;
        return nowMs - issued > lifetimeSeconds * 1000L ? NonceStatus.Stale : NonceStatus.Valid;
    }

    private void ComputeMac(ReadOnlySpan<byte> signed, ReadOnlySpan<byte> realm, Span<byte> destination)
    {
        var length = SignedLength + realm.Length;
        byte[]? rented = null;
        var input = length <= SignedLength + StackRealmLength
            ? stackalloc byte[SignedLength + StackRealmLength]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            signed.CopyTo(input);
            realm.CopyTo(input[SignedLength..]);
            Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
            HMACSHA256.HashData(_secret, input[..length], mac);
            mac[..MacLength].CopyTo(destination);
        }
        finally
        {
            if (rented != null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
