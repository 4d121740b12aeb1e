using System.Text;

namespace PjSharp.Interception.Security;

/// <summary>
/// The WWW-Authenticate / Proxy-Authenticate values of a realm: one per algorithm, strongest
/// first (RFC 8760 §2.4), e.g. <c>Digest realm="example.com",nonce="…",algorithm=SHA-256,qop="auth"</c>.
/// Everything but the nonce is encoded once, when configuration loads; writing a challenge
/// copies bytes and allocates nothing.
/// </summary>
internal sealed class DigestChallenge
{
    private static ReadOnlySpan<byte> StaleSuffix => ",stale=true"u8;

    private readonly DigestAlgorithm[] _algorithms;
    private readonly byte[] _realm;
    private readonly byte[] _prefix;
    private readonly byte[][] _suffixes;
    private readonly int _maxSuffixLength;

    /// <param name="realm">The realm; quotes and backslashes in it are escaped.</param>
    /// <param name="algorithms">The algorithms to offer, in any order; duplicates are ignored.</param>
    /// <param name="opaque">An <c>opaque</c> value to send (clients echo it), or null for none.</param>
    public DigestChallenge(string realm, IEnumerable<DigestAlgorithm> algorithms, string? opaque = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(realm);
        ArgumentNullException.ThrowIfNull(algorithms);
        var offered = new HashSet<DigestAlgorithm>();
        foreach (var algorithm in algorithms)
        {
            if (!DigestAlgorithms.IsDefined(algorithm))
                throw new ArgumentOutOfRangeException(nameof(algorithms), algorithm, "Unknown digest algorithm.");
            offered.Add(algorithm);
        }
        if (offered.Count == 0)
            throw new ArgumentException("At least one digest algorithm must be offered.", nameof(algorithms));
        var strongestFirst = new List<DigestAlgorithm>();
        foreach (var algorithm in DigestAlgorithms.StrongestFirst)
        {
            if (offered.Contains(algorithm))
                strongestFirst.Add(algorithm);
        }
        _algorithms = [.. strongestFirst];

        Realm = realm;
        _realm = Encoding.UTF8.GetBytes(realm);
        _prefix = Encoding.UTF8.GetBytes($"Digest realm=\"{QuotedContent(realm, nameof(realm))}\",nonce=\"");
        var opaquePart = opaque == null ? "" : $",opaque=\"{QuotedContent(opaque, nameof(opaque))}\"";
        _suffixes = [.. _algorithms.Select(a => Encoding.UTF8.GetBytes($"\"{opaquePart},algorithm={DigestAlgorithms.Name(a)},qop=\"auth\""))];
        _maxSuffixLength = _suffixes.Max(s => s.Length) + StaleSuffix.Length;
    }

    public string Realm { get; }

    /// <summary>The realm as UTF-8: what <see cref="DigestVerifier.Verify"/> and <see cref="NonceService"/> take.</summary>
    public ReadOnlySpan<byte> RealmBytes => _realm;

    /// <summary>The algorithms offered, strongest first: challenge <c>i</c> offers <c>Algorithms[i]</c>.</summary>
    public ReadOnlySpan<DigestAlgorithm> Algorithms => _algorithms;

    /// <summary>The longest value <see cref="Write"/> can produce, with a nonce of <paramref name="nonceLength"/> bytes.</summary>
    public int MaxLength(int nonceLength = NonceService.NonceLength) => _prefix.Length + nonceLength + _maxSuffixLength;

    /// <summary>Writes challenge <paramref name="index"/> (see <see cref="Algorithms"/>); returns the bytes written.</summary>
    /// <param name="nonce">A nonce from <see cref="NonceService.Create"/>.</param>
    /// <param name="stale">Adds <c>stale=true</c>: the credentials were right but the nonce expired or replayed.</param>
    public int Write(int index, ReadOnlySpan<byte> nonce, bool stale, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _algorithms.Length);
        // A nonce is base64url; anything that could end the quoted string is a caller's bug.
        if (nonce.IndexOfAny("\"\\\r\n"u8) >= 0)
            throw new ArgumentException("The nonce must not contain quotes, backslashes or line breaks.", nameof(nonce));
        var suffix = _suffixes[index];
        var length = _prefix.Length + nonce.Length + suffix.Length + (stale ? StaleSuffix.Length : 0);
        if (destination.Length < length)
            throw new ArgumentException($"The destination must hold {length} bytes.", nameof(destination));
        _prefix.CopyTo(destination);
        var offset = _prefix.Length;
        nonce.CopyTo(destination[offset..]);
        offset += nonce.Length;
        suffix.CopyTo(destination[offset..]);
        offset += suffix.Length;
        if (stale)
        {
            StaleSuffix.CopyTo(destination[offset..]);
            offset += StaleSuffix.Length;
        }
        return offset;
    }

    private static string QuotedContent(string value, string parameter)
    {
        if (value.Any(char.IsControl))
            throw new ArgumentException("Control characters cannot be sent in a quoted string.", parameter);
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
    }
}
