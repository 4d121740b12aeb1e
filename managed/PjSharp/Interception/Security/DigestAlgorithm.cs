using System.Security.Cryptography;
using System.Text;

namespace PjSharp.Interception.Security;

/// <summary>Digest authentication hash algorithms (RFC 7616 §6.1, RFC 8760 for SIP).</summary>
public enum DigestAlgorithm
{
    /// <summary><c>MD5</c>: the RFC 3261 default, and all that many deployed phones speak.</summary>
    Md5,

    /// <summary><c>SHA-256</c>.</summary>
    Sha256,

    /// <summary><c>SHA-512-256</c>: SHA-512/256 of FIPS 180-4.</summary>
    Sha512_256,
}

/// <summary>Wire names, sizes and the hash function of each <see cref="DigestAlgorithm"/>.</summary>
internal static class DigestAlgorithms
{
    /// <summary>The longest digest any algorithm produces, in bytes.</summary>
    public const int MaxHashSize = 32;

    /// <summary>The longest digest any algorithm produces, as lower-case hex.</summary>
    public const int MaxHexSize = MaxHashSize * 2;

    /// <summary>Strongest first: the order RFC 8760 asks challenges to be offered in.</summary>
    public static ReadOnlySpan<DigestAlgorithm> StrongestFirst => [DigestAlgorithm.Sha512_256, DigestAlgorithm.Sha256, DigestAlgorithm.Md5];

    public static ReadOnlySpan<byte> WireName(DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Md5 => "MD5"u8,
        DigestAlgorithm.Sha256 => "SHA-256"u8,
        DigestAlgorithm.Sha512_256 => "SHA-512-256"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    public static string Name(DigestAlgorithm algorithm) => Encoding.ASCII.GetString(WireName(algorithm));

    /// <summary>Digest size in bytes.</summary>
    public static int HashSize(DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Md5 => MD5.HashSizeInBytes,
        DigestAlgorithm.Sha256 => SHA256.HashSizeInBytes,
        DigestAlgorithm.Sha512_256 => Sha512_256.HashSizeInBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    public static bool IsDefined(DigestAlgorithm algorithm) => algorithm is DigestAlgorithm.Md5 or DigestAlgorithm.Sha256 or DigestAlgorithm.Sha512_256;

    /// <summary>
    /// Reads an <c>algorithm</c> parameter, case-insensitively. An absent parameter means MD5
    /// (RFC 7616 §3.3). The <c>-sess</c> variants are not supported.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> name, out DigestAlgorithm algorithm)
    {
        if (name.IsEmpty || Ascii.EqualsIgnoreCase(name, "MD5"u8))
            algorithm = DigestAlgorithm.Md5;
        else if (Ascii.EqualsIgnoreCase(name, "SHA-256"u8))
            algorithm = DigestAlgorithm.Sha256;
        else if (Ascii.EqualsIgnoreCase(name, "SHA-512-256"u8))
            algorithm = DigestAlgorithm.Sha512_256;
        else
        {
            algorithm = default;
            return false;
        }
        return true;
    }

    /// <summary>Hashes <paramref name="source"/>; returns the number of bytes written.</summary>
    public static int Hash(DigestAlgorithm algorithm, ReadOnlySpan<byte> source, Span<byte> destination) => algorithm switch
    {
#pragma warning disable CA5351 // Digest MD5 is what RFC 3261 and deployed phones require; stronger algorithms are offered first.
        DigestAlgorithm.Md5 => MD5.HashData(source, destination),
#pragma warning restore CA5351
        DigestAlgorithm.Sha256 => SHA256.HashData(source, destination),
        DigestAlgorithm.Sha512_256 => Sha512_256.HashData(source, destination),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    /// <summary>Hashes <paramref name="source"/> and writes the digest as lower-case hex; returns the characters written.</summary>
    public static int HashToHex(DigestAlgorithm algorithm, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        Span<byte> hash = stackalloc byte[MaxHashSize];
        var length = Hash(algorithm, source, hash);
        return HexLower(hash[..length], destination);
    }

    public static int HexLower(ReadOnlySpan<byte> bytes, Span<byte> destination)
    {
        var alphabet = "0123456789abcdef"u8;
        if (destination.Length < bytes.Length * 2)
            throw new ArgumentException("Destination too small for the hex digest.", nameof(destination));
        for (var i = 0; i < bytes.Length; i++)
        {
            destination[2 * i] = alphabet[bytes[i] >> 4];
            destination[(2 * i) + 1] = alphabet[bytes[i] & 0xF];
        }
        return bytes.Length * 2;
    }
}
