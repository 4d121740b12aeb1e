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
/// Stateless nonces: <c>base64url(timestamp || HMAC-SHA256(secret, timestamp || realm)[..16])</c>,
/// the timestamp being 8 big-endian bytes of Unix milliseconds. Nothing is stored per nonce, so
/// challenges cost no memory and any node sharing the secret can check them. The caller passes
/// the time (e.g. <c>TimeProvider.GetUtcNow().ToUnixTimeMilliseconds()</c>). Thread-safe.
/// </summary>
internal sealed class NonceService
{
    /// <summary>Length of every nonce this service creates, in bytes (base64url characters).</summary>
    public const int NonceLength = 32;

    private const int TimestampLength = 8;
    private const int MacLength = 16;
    private const int RawLength = TimestampLength + MacLength;
    private const int StackRealmLength = 256;

    private readonly byte[] _secret;
    private readonly long _maxClockSkewMs;

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
        ComputeMac(raw[..TimestampLength], realm, raw[TimestampLength..]);
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
        ComputeMac(raw[..TimestampLength], realm, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, raw[TimestampLength..]))
            return NonceStatus.Invalid;

        var issued = BinaryPrimitives.ReadInt64BigEndian(raw);
        if (issued > nowMs + _maxClockSkewMs)
            return NonceStatus.Invalid;
        issuedAtMs = issued;
        return nowMs - issued > lifetimeSeconds * 1000L ? NonceStatus.Stale : NonceStatus.Valid;
    }

    private void ComputeMac(ReadOnlySpan<byte> timestamp, ReadOnlySpan<byte> realm, Span<byte> destination)
    {
        var length = TimestampLength + realm.Length;
        byte[]? rented = null;
        var input = length <= TimestampLength + StackRealmLength
            ? stackalloc byte[TimestampLength + StackRealmLength]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            timestamp.CopyTo(input);
            realm.CopyTo(input[TimestampLength..]);
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
