using System.Text;

namespace PjSharp.Interception.Security;

/// <summary>What <see cref="DigestCredentials.TryParse"/> made of a header value.</summary>
internal enum DigestParseResult
{
    Ok,

    /// <summary>Not valid Digest credentials syntax, a duplicated parameter, or a required one missing: answer 400.</summary>
    Malformed,

    /// <summary>The header or one parameter value is longer than the limits: answer 400 without further work.</summary>
    Oversized,

    /// <summary>Another authentication scheme (e.g. <c>Basic</c>): not ours to check.</summary>
    NotDigest,
}

/// <summary>
/// Digest credentials (RFC 3261 §25.1, RFC 7616 §3.4) read in place from an Authorization or
/// Proxy-Authorization header value, e.g. <c>Digest username="alice", realm="...", ...</c>.
/// Values are spans into that header value: quoted values without their quotes but still with
/// any backslash escapes (use <see cref="Unquote"/>), token values as sent. Allocation-free, and
/// a ref struct so it cannot outlive the message it reads.
/// </summary>
internal readonly ref struct DigestCredentials
{
    /// <summary>The longest header value accepted.</summary>
    public const int MaxHeaderLength = 4096;

    /// <summary>The longest parameter value accepted (raw, quotes excluded).</summary>
    public const int MaxValueLength = 256;

    private readonly Fields _fields;

    private DigestCredentials(Fields fields) => _fields = fields;

    public ReadOnlySpan<byte> Username => _fields.Username;

    public ReadOnlySpan<byte> Realm => _fields.Realm;

    public ReadOnlySpan<byte> Nonce => _fields.Nonce;

    /// <summary>The <c>uri</c> parameter (digest-uri).</summary>
    public ReadOnlySpan<byte> Uri => _fields.Uri;

    /// <summary>The <c>response</c> parameter: the client's request-digest in hex.</summary>
    public ReadOnlySpan<byte> Response => _fields.Response;

    /// <summary>The <c>algorithm</c> parameter; empty when absent, which means MD5.</summary>
    public ReadOnlySpan<byte> Algorithm => _fields.Algorithm;

    public ReadOnlySpan<byte> Cnonce => _fields.Cnonce;

    /// <summary>The <c>qop</c> parameter; empty when absent (RFC 2069 compatibility).</summary>
    public ReadOnlySpan<byte> Qop => _fields.Qop;

    public ReadOnlySpan<byte> Opaque => _fields.Opaque;

    /// <summary>The <c>nc</c> parameter's 8 hex digits as sent (they enter the digest verbatim).</summary>
    public ReadOnlySpan<byte> NonceCountText => _fields.NonceCountText;

    /// <summary>The <c>nc</c> parameter's value; 0 when absent.</summary>
    public uint NonceCount => _fields.NonceCount;

    public bool HasNonceCount => !_fields.NonceCountText.IsEmpty;

    public bool HasQop => !_fields.Qop.IsEmpty;

    /// <summary><c>userhash=true</c> (RFC 7616 §3.4.4): the username is hashed; PjSharp does not support it.</summary>
    public bool UserHash => _fields.UserHash;

    /// <summary>
    /// Reads credentials from a header value: the scheme, then comma-separated parameters.
    /// Parameter names are case-insensitive, unknown ones are skipped, a repeated known one is
    /// <see cref="DigestParseResult.Malformed"/>. username, realm, nonce, uri and response are
    /// required; with qop, so are cnonce and nc.
    /// </summary>
    public static DigestParseResult TryParse(ReadOnlySpan<byte> value, out DigestCredentials credentials)
    {
        credentials = default;
        if (value.Length > MaxHeaderLength)
            return DigestParseResult.Oversized;

        var position = SkipWhitespace(value, 0);
        var schemeEnd = position;
        while (schemeEnd < value.Length && IsTokenChar(value[schemeEnd]))
            schemeEnd++;
        if (!Ascii.EqualsIgnoreCase(value[position..schemeEnd], "Digest"u8))
            return schemeEnd > position ? DigestParseResult.NotDigest : DigestParseResult.Malformed;
        // The scheme is followed by LWS and at least one parameter.
        if (schemeEnd == value.Length || !IsWhitespace(value[schemeEnd]))
            return DigestParseResult.Malformed;
        position = SkipWhitespace(value, schemeEnd);
        if (position == value.Length)
            return DigestParseResult.Malformed;

        var fields = default(Fields);
        var seen = Parameter.None;
        while (true)
        {
            var result = ReadParameter(value, ref position, out var name, out var parameterValue);
            if (result != DigestParseResult.Ok)
                return result;
            var parameter = Identify(name);
            if (parameter != Parameter.None)
            {
                if ((seen & parameter) != 0)
                    return DigestParseResult.Malformed;
                seen |= parameter;
                if (!Assign(ref fields, parameter, parameterValue))
                    return DigestParseResult.Malformed;
            }

            position = SkipWhitespace(value, position);
            if (position == value.Length)
                break;
            if (value[position] != (byte)',')
                return DigestParseResult.Malformed;
            position = SkipWhitespace(value, position + 1);
        }

        const Parameter required = Parameter.Username | Parameter.Realm | Parameter.Nonce | Parameter.Uri | Parameter.Response;
        if ((seen & required) != required)
            return DigestParseResult.Malformed;
        if (!fields.Qop.IsEmpty && (fields.Cnonce.IsEmpty || fields.NonceCountText.IsEmpty))
            return DigestParseResult.Malformed;
        credentials = new DigestCredentials(fields);
        return DigestParseResult.Ok;
    }

    /// <summary>
    /// A quoted value without its backslash escapes: <paramref name="raw"/> itself when it has
    /// none, else its unescaped copy in <paramref name="scratch"/> (as long as <paramref name="raw"/> suffices).
    /// </summary>
    public static ReadOnlySpan<byte> Unquote(ReadOnlySpan<byte> raw, Span<byte> scratch)
    {
        if (!raw.Contains((byte)'\\'))
            return raw;
        if (scratch.Length < raw.Length)
            throw new ArgumentException("The scratch buffer must be at least as long as the raw value.", nameof(scratch));
        var written = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            // The parser guarantees a backslash is never the last byte.
            if (raw[i] == (byte)'\\' && i + 1 < raw.Length)
                i++;
            scratch[written++] = raw[i];
        }
        return scratch[..written];
    }

    private static DigestParseResult ReadParameter(ReadOnlySpan<byte> value, scoped ref int position, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> parameterValue)
    {
        name = default;
        parameterValue = default;
        var start = position;
        while (position < value.Length && IsTokenChar(value[position]))
            position++;
        if (position == start)
            return DigestParseResult.Malformed;
        name = value[start..position];
        position = SkipWhitespace(value, position);
        if (position == value.Length || value[position] != (byte)'=')
            return DigestParseResult.Malformed;
        position = SkipWhitespace(value, position + 1);
        if (position == value.Length)
            return DigestParseResult.Malformed;

        if (value[position] == (byte)'"')
        {
            start = ++position;
            while (true)
            {
                if (position == value.Length)
                    return DigestParseResult.Malformed;
                var b = value[position];
                if (b == (byte)'"')
                    break;
                if (b == (byte)'\\')
                {
                    // quoted-pair; control bytes stay refused when escaped, so no value carries one.
                    position++;
                    if (position == value.Length || IsControl(value[position]))
                        return DigestParseResult.Malformed;
                }
                else if (IsControl(b))
                    return DigestParseResult.Malformed;
                position++;
            }
            parameterValue = value[start..position];
            position++;
        }
        else
        {
            start = position;
            while (position < value.Length && IsTokenChar(value[position]))
                position++;
            if (position == start)
                return DigestParseResult.Malformed;
            parameterValue = value[start..position];
        }
        return parameterValue.Length > MaxValueLength ? DigestParseResult.Oversized : DigestParseResult.Ok;
    }

    private static Parameter Identify(ReadOnlySpan<byte> name)
    {
        if (Ascii.EqualsIgnoreCase(name, "username"u8))
            return Parameter.Username;
        if (Ascii.EqualsIgnoreCase(name, "realm"u8))
            return Parameter.Realm;
        if (Ascii.EqualsIgnoreCase(name, "nonce"u8))
            return Parameter.Nonce;
        if (Ascii.EqualsIgnoreCase(name, "uri"u8))
            return Parameter.Uri;
        if (Ascii.EqualsIgnoreCase(name, "response"u8))
            return Parameter.Response;
        if (Ascii.EqualsIgnoreCase(name, "algorithm"u8))
            return Parameter.Algorithm;
        if (Ascii.EqualsIgnoreCase(name, "cnonce"u8))
            return Parameter.Cnonce;
        if (Ascii.EqualsIgnoreCase(name, "qop"u8))
            return Parameter.Qop;
        if (Ascii.EqualsIgnoreCase(name, "nc"u8))
            return Parameter.NonceCount;
        if (Ascii.EqualsIgnoreCase(name, "opaque"u8))
            return Parameter.Opaque;
        if (Ascii.EqualsIgnoreCase(name, "userhash"u8))
            return Parameter.UserHash;
        return Parameter.None;
    }

    private static bool Assign(ref Fields fields, Parameter parameter, ReadOnlySpan<byte> value)
    {
        switch (parameter)
        {
            case Parameter.Username: fields.Username = value; break;
            case Parameter.Realm: fields.Realm = value; break;
            case Parameter.Nonce: fields.Nonce = value; break;
            case Parameter.Uri: fields.Uri = value; break;
            case Parameter.Response: fields.Response = value; break;
            case Parameter.Algorithm: fields.Algorithm = value; break;
            case Parameter.Cnonce: fields.Cnonce = value; break;
            case Parameter.Opaque: fields.Opaque = value; break;
            case Parameter.Qop:
                if (value.IsEmpty)
                    return false;
                fields.Qop = value;
                break;
            case Parameter.NonceCount:
                // nc-value = 8LHEX; it enters the digest as sent, so it must be exactly that.
                if (value.Length != 8 || !TryParseHex(value, out var count))
                    return false;
                fields.NonceCountText = value;
                fields.NonceCount = count;
                break;
            case Parameter.UserHash:
                if (Ascii.EqualsIgnoreCase(value, "true"u8))
                    fields.UserHash = true;
                else if (!Ascii.EqualsIgnoreCase(value, "false"u8))
                    return false;
                break;
        }
        return true;
    }

    private static bool TryParseHex(ReadOnlySpan<byte> text, out uint value)
    {
        value = 0;
        foreach (var b in text)
        {
            int digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
                return false;
            value = (value << 4) | (uint)digit;
        }
        return true;
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> value, int position)
    {
        while (position < value.Length && IsWhitespace(value[position]))
            position++;
        return position;
    }

    private static bool IsControl(byte b) => (b < 0x20 && b != (byte)'\t') || b == 0x7F;

    // LWS, folded lines included: the value may come straight from the wire.
    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    // RFC 3261 token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
    private static bool IsTokenChar(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'.' or (byte)'!' or (byte)'%' or (byte)'*'
            or (byte)'_' or (byte)'+' or (byte)'`' or (byte)'\'' or (byte)'~';

    [Flags]
    private enum Parameter
    {
        None = 0,
        Username = 1 << 0,
        Realm = 1 << 1,
        Nonce = 1 << 2,
        Uri = 1 << 3,
        Response = 1 << 4,
        Algorithm = 1 << 5,
        Cnonce = 1 << 6,
        Qop = 1 << 7,
        NonceCount = 1 << 8,
        Opaque = 1 << 9,
        UserHash = 1 << 10,
    }

    private ref struct Fields
    {
        public ReadOnlySpan<byte> Username;
        public ReadOnlySpan<byte> Realm;
        public ReadOnlySpan<byte> Nonce;
        public ReadOnlySpan<byte> Uri;
        public ReadOnlySpan<byte> Response;
        public ReadOnlySpan<byte> Algorithm;
        public ReadOnlySpan<byte> Cnonce;
        public ReadOnlySpan<byte> Qop;
        public ReadOnlySpan<byte> Opaque;
        public ReadOnlySpan<byte> NonceCountText;
        public uint NonceCount;
        public bool UserHash;
    }
}
