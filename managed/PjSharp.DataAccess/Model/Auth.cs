namespace PjSharp.DataAccess;

/// <summary>Credentials (<c>type=auth</c>): checks requests from an endpoint, or answers challenges to us.</summary>
public sealed record Auth(string Id) : SipObject(Id), ISipObject<Auth>
{
    /// <summary>How the secret is held (<c>auth_type</c>).</summary>
    public AuthType AuthType { get; init; } = AuthType.UserPass;

    /// <summary>User name (<c>username</c>); required.</summary>
    public string Username { get; init; } = "";

    /// <summary>Plain password (<c>password</c>), for <see cref="AuthType.UserPass"/>.</summary>
    public string Password { get; init; } = "";

    /// <summary>MD5 of <c>username:realm:password</c> as 32 hex digits (<c>md5_cred</c>), for <see cref="AuthType.Md5"/>.</summary>
    public string Md5Cred { get; init; } = "";

    /// <summary>
    /// Stored digests of <c>username:realm:password</c> for RFC 8760 algorithms (<c>password_digest</c>,
    /// Asterisk's syntax <c>SHA-256:&lt;64 hex digits&gt;</c>; repeatable, one per algorithm).
    /// </summary>
    public ValueList<string> PasswordDigests { get; init; }

    /// <summary>Realm (<c>realm</c>); empty means the global <c>default_realm</c>.</summary>
    public string Realm { get; init; } = "";

    /// <summary>Lifetime of a nonce we issue, seconds (<c>nonce_lifetime</c>).</summary>
    public uint NonceLifetime { get; init; } = 32;

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    /// <summary>Never prints the secrets.</summary>
    public override string ToString() => $"Auth {{ Id = {Id}, AuthType = {AuthType}, Username = {Username}, Realm = {Realm} }}";

    private static readonly (string, AuthType)[] AuthTypes = [("userpass", AuthType.UserPass), ("md5", AuthType.Md5)];

    private static AuthType ParseAuthType(string value)
    {
        // Newer Asterisk spells plain passwords "digest"; OAuth is not implemented here.
        if (string.Equals(value.Trim(), "digest", StringComparison.OrdinalIgnoreCase))
            return AuthType.UserPass;
        if (string.Equals(value.Trim(), "google_oauth", StringComparison.OrdinalIgnoreCase))
            throw new OptionValueException("'google_oauth' is not supported by PjSharp (expected userpass or md5)");
        return OptionValues.ParseEnum(value, AuthTypes);
    }

    private static string ParseMd5(string value)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
            return "";
        if (trimmed.Length != 32 || !trimmed.All(char.IsAsciiHexDigit))
            throw new OptionValueException("invalid value: expected 32 hexadecimal digits (MD5 of username:realm:password)");
        return trimmed.ToLowerInvariant();
    }

    /// <summary>Digest lengths in hex digits per algorithm name.</summary>
    private static readonly (string Name, int HexDigits)[] DigestAlgorithms = [("MD5", 32), ("SHA-256", 64), ("SHA-512-256", 64)];

    private static string ParseDigest(string value)
    {
        var trimmed = value.Trim();
        var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        var algorithm = colon < 0 ? "" : trimmed[..colon].Trim();
        var known = DigestAlgorithms.FirstOrDefault(a => a.Name.Equals(algorithm, StringComparison.OrdinalIgnoreCase));
        if (known.Name == null)
            throw new OptionValueException("invalid value: expected <algorithm>:<hex digest> with algorithm MD5, SHA-256 or SHA-512-256");
        var digest = trimmed[(colon + 1)..].Trim();
        // The digest itself is never echoed: it is as good as the password for this realm.
        if (digest.Length != known.HexDigits || !digest.All(char.IsAsciiHexDigit))
            throw new OptionValueException($"invalid value: a {known.Name} digest is {known.HexDigits} hexadecimal digits (H(username:realm:password))");
        return $"{known.Name}:{digest.ToLowerInvariant()}";
    }

    private static IEnumerable<(string, string)> Validate(Auth auth)
    {
        if (auth.Username.Length == 0)
            yield return ("username", "required");
        if (auth.AuthType == AuthType.Md5 && auth.Md5Cred.Length == 0)
            yield return ("md5_cred", "required when auth_type=md5");
        if (auth.AuthType == AuthType.UserPass && auth.Password.Length == 0 && auth.PasswordDigests.IsEmpty)
            yield return ("password", "required when auth_type=userpass (or password_digest)");
    }

    private static readonly string[] UnsupportedOptions = [
        "supported_algorithms_uac", "supported_algorithms_uas", "refresh_token", "oauth_clientid", "oauth_secret",
    ];

    /// <summary>The <c>auth</c> type.</summary>
    public static ObjectType<Auth> Type { get; } = new(
        "auth",
        isDynamic: false,
        id => new Auth(id),
        o =>
        {
            o.Custom("auth_type", (a, v) => a with { AuthType = ParseAuthType(v) }, a => OptionValues.FormatEnum(a.AuthType, AuthTypes));
            o.Text("username", a => a.Username, (a, v) => a with { Username = v });
            o.Custom("password", (a, v) => a with { Password = v }, a => a.Password);
            o.Custom("md5_cred", (a, v) => a with { Md5Cred = ParseMd5(v) }, a => a.Md5Cred);
            o.AppendList("password_digest", a => a.PasswordDigests, (a, v) => a with { PasswordDigests = v }, ParseDigest, d => d);
            o.Text("realm", a => a.Realm, (a, v) => a with { Realm = v });
            o.UInt("nonce_lifetime", a => a.NonceLifetime, (a, v) => a with { NonceLifetime = v }, min: 1);
        },
        Validate,
        UnsupportedOptions);
}
