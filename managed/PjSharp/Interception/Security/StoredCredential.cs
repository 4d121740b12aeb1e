using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using PjSharp.DataAccess;

namespace PjSharp.Interception.Security;

/// <summary>
/// A user's secret in the form digest verification needs: HA1 = H(username:realm:password) as
/// lower-case hex, per algorithm. Built when configuration loads; the plain password is not kept.
/// A stored hash (Asterisk's <c>md5_cred</c>) serves only its own algorithm.
/// </summary>
internal sealed class StoredCredential
{
    public const int DefaultNonceLifetimeSeconds = 32;

    private static readonly SearchValues<char> HexDigits = SearchValues.Create("0123456789abcdefABCDEF");

    private readonly byte[]?[] _ha1 = new byte[]?[3];
    private readonly byte[] _username;
    private readonly byte[] _realm;

    private StoredCredential(string username, string realm, int nonceLifetimeSeconds)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentNullException.ThrowIfNull(realm);
        ArgumentOutOfRangeException.ThrowIfLessThan(nonceLifetimeSeconds, 1);
        _username = Encoding.UTF8.GetBytes(username);
        _realm = Encoding.UTF8.GetBytes(realm);
        UsernameText = username;
        RealmText = realm;
        NonceLifetimeSeconds = nonceLifetimeSeconds;
    }

    /// <summary>The user name as UTF-8, compared with the unquoted <c>username</c> parameter.</summary>
    public ReadOnlySpan<byte> Username => _username;

    /// <summary>The realm as UTF-8; HA1 depends on it.</summary>
    public ReadOnlySpan<byte> Realm => _realm;

    public string UsernameText { get; }

    public string RealmText { get; }

    /// <summary>How long a nonce issued for this user stays valid (<c>nonce_lifetime</c>).</summary>
    public int NonceLifetimeSeconds { get; }

    /// <summary>From a plain password: serves every algorithm.</summary>
    public static StoredCredential FromPassword(string username, string realm, string password, int nonceLifetimeSeconds = DefaultNonceLifetimeSeconds)
    {
        ArgumentNullException.ThrowIfNull(password);
        var credential = new StoredCredential(username, realm, nonceLifetimeSeconds);
        var secret = Encoding.UTF8.GetBytes($"{username}:{realm}:");
        var input = new byte[secret.Length + Encoding.UTF8.GetByteCount(password)];
        try
        {
            secret.CopyTo(input, 0);
            Encoding.UTF8.GetBytes(password, input.AsSpan(secret.Length));
            foreach (var algorithm in DigestAlgorithms.StrongestFirst)
            {
                var ha1 = new byte[DigestAlgorithms.HashSize(algorithm) * 2];
                DigestAlgorithms.HashToHex(algorithm, input, ha1);
                credential._ha1[(int)algorithm] = ha1;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
        }
        return credential;
    }

    /// <summary>
    /// From a stored HA1 in hex (e.g. <c>md5_cred</c>): serves only <paramref name="algorithm"/>.
    /// A hash of the wrong length or with a non-hex character is refused here, at load time.
    /// </summary>
    /// <exception cref="ArgumentException">The hash is not <c>2 × digest size</c> hexadecimal digits.</exception>
    public static StoredCredential FromHash(string username, string realm, DigestAlgorithm algorithm, string ha1Hex, int nonceLifetimeSeconds = DefaultNonceLifetimeSeconds)
    {
        ArgumentNullException.ThrowIfNull(ha1Hex);
        if (!DigestAlgorithms.IsDefined(algorithm))
            throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown digest algorithm.");
        var credential = new StoredCredential(username, realm, nonceLifetimeSeconds);
        var hex = ha1Hex.AsSpan().Trim();
        var expected = DigestAlgorithms.HashSize(algorithm) * 2;
        var name = DigestAlgorithms.Name(algorithm);
        // Never echo the hash itself: it is as good as the password for this realm.
        if (hex.Length != expected)
            throw new ArgumentException(
                $"The stored {name} hash for user '{username}' must be {expected} hexadecimal digits (H(username:realm:password)); it has {hex.Length} characters.",
                nameof(ha1Hex));
        var bad = hex.IndexOfAnyExcept(HexDigits);
        if (bad >= 0)
            throw new ArgumentException(
                $"The stored {name} hash for user '{username}' has a character that is not a hexadecimal digit at position {bad + 1}.",
                nameof(ha1Hex));
        var ha1 = new byte[expected];
        for (var i = 0; i < expected; i++)
            ha1[i] = (byte)char.ToLowerInvariant(hex[i]);
        credential._ha1[(int)algorithm] = ha1;
        return credential;
    }

    /// <summary>
    /// From a configured <c>type=auth</c> object; an empty realm there means <paramref name="defaultRealm"/>.
    /// A plain password serves every algorithm; <c>md5_cred</c> and each <c>password_digest</c> serve theirs.
    /// </summary>
    public static StoredCredential FromAuth(Auth auth, string defaultRealm)
    {
        ArgumentNullException.ThrowIfNull(auth);
        ArgumentNullException.ThrowIfNull(defaultRealm);
        var realm = auth.Realm.Length > 0 ? auth.Realm : defaultRealm;
        var lifetime = (int)Math.Clamp(auth.NonceLifetime, 1u, int.MaxValue / 1000);
        var credential = auth.AuthType switch
        {
            AuthType.Md5 => FromHash(auth.Username, realm, DigestAlgorithm.Md5, auth.Md5Cred, lifetime),
            _ when auth.Password.Length > 0 => FromPassword(auth.Username, realm, auth.Password, lifetime),
            _ => new StoredCredential(auth.Username, realm, lifetime),
        };
        foreach (var entry in auth.PasswordDigests)
        {
            var colon = entry.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || !DigestAlgorithms.TryParse(System.Text.Encoding.ASCII.GetBytes(entry[..colon]), out var algorithm))
                throw new ArgumentException($"The password_digest of user '{auth.Username}' names no known algorithm.", nameof(auth));
            credential._ha1[(int)algorithm] = FromHash(auth.Username, realm, algorithm, entry[(colon + 1)..], lifetime)._ha1[(int)algorithm];
        }
        return credential;
    }

    public bool Supports(DigestAlgorithm algorithm) => DigestAlgorithms.IsDefined(algorithm) && _ha1[(int)algorithm] != null;

    /// <summary>HA1 for <paramref name="algorithm"/> as lower-case hex; empty when not <see cref="Supports"/>.</summary>
    internal ReadOnlySpan<byte> Ha1(DigestAlgorithm algorithm) => DigestAlgorithms.IsDefined(algorithm) ? _ha1[(int)algorithm] : default;

    /// <summary>Never prints the secrets.</summary>
    public override string ToString() =>
        $"StoredCredential {{ Username = {UsernameText}, Realm = {RealmText}, Algorithms = {string.Join(",", DigestAlgorithms.StrongestFirst.ToArray().Where(Supports).Select(DigestAlgorithms.Name))} }}";
}
