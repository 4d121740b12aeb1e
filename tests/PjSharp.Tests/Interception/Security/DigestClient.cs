using System.Security.Cryptography;
using System.Text;
using PjSharp.Interception.Security;

namespace PjSharp.Tests.Interception.Security;

/// <summary>A client's side of digest authentication, written independently of the code under test.</summary>
internal static class DigestClient
{
    public static string H(DigestAlgorithm algorithm, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return Convert.ToHexStringLower(algorithm switch
        {
#pragma warning disable CA5351 // Digest MD5 is the protocol under test.
            DigestAlgorithm.Md5 => MD5.HashData(bytes),
#pragma warning restore CA5351
            DigestAlgorithm.Sha256 => SHA256.HashData(bytes),
            _ => Sha512_256Reference(bytes),
        });
    }

    // Sha512_256 itself is checked against the FIPS vectors and OpenSSL; it stands in here.
    private static byte[] Sha512_256Reference(byte[] bytes)
    {
        var digest = new byte[32];
        Sha512_256.HashData(bytes, digest);
        return digest;
    }

    public static string Response(DigestAlgorithm algorithm, string username, string realm, string password, string method, string uri,
        string nonce, string? qop = "auth", string nc = "00000001", string cnonce = "0a4f113b")
    {
        var ha1 = H(algorithm, $"{username}:{realm}:{password}");
        var ha2 = H(algorithm, $"{method}:{uri}");
        return qop == null ? H(algorithm, $"{ha1}:{nonce}:{ha2}") : H(algorithm, $"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}");
    }

    /// <summary>An Authorization header value, as a phone would send it.</summary>
    public static string Authorization(DigestAlgorithm algorithm, string username, string realm, string password, string nonce,
        string method = "REGISTER", string uri = "sip:example.com", string? qop = "auth", uint nc = 1, string cnonce = "0a4f113b",
        string? response = null, string extra = "")
    {
        var ncText = nc.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
        response ??= Response(algorithm, username, realm, password, method, uri, nonce, qop, ncText, cnonce);
        var quotedUser = username.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
        var name = algorithm switch { DigestAlgorithm.Md5 => "MD5", DigestAlgorithm.Sha256 => "SHA-256", _ => "SHA-512-256" };
        return $"Digest username=\"{quotedUser}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm={name}"
            + (qop == null ? "" : $", qop={qop}, nc={ncText}, cnonce=\"{cnonce}\"") + extra;
    }
}
