using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace PjSharp.Interception.Security;

/// <summary>The outcome of checking digest credentials.</summary>
internal enum DigestVerification
{
    /// <summary>The response is right, the nonce fresh, and the nonce count new.</summary>
    Authenticated,

    /// <summary>
    /// Wrong password, unknown user, foreign or forged nonce, another realm, an algorithm or
    /// qop we did not offer, or userhash: challenge again (and count it as a failed attempt).
    /// </summary>
    Failed,

    /// <summary>
    /// The response is right but the nonce expired, or the replay check no longer remembers it:
    /// challenge again with <c>stale=true</c>, which a real client answers silently.
    /// </summary>
    Stale,

    /// <summary>
    /// The response is right but the nonce count was used before: challenge again with
    /// <c>stale=true</c>, and count it as a failed attempt.
    /// </summary>
    Replayed,
}

/// <summary>
/// Checks digest credentials (RFC 7616 §3.4.1, RFC 3261 §22.4): HA2 = H(method:uri); with
/// qop=auth response = H(HA1:nonce:nc:cnonce:qop:HA2), without qop H(HA1:nonce:HA2); lower-case
/// hex, compared in constant time. Runs inline on pjsip workers, so it allocates nothing.
/// Whether the <c>uri</c> parameter names the request's Request-URI is the caller's check.
/// </summary>
internal sealed class DigestVerifier
{
    /// <summary>The longest method name accepted.</summary>
    public const int MaxMethodLength = 32;

    // Every quoted input is capped by the parser, so these hold the largest digest input.
    private const int Ha2InputLength = MaxMethodLength + 1 + DigestCredentials.MaxValueLength;
    private const int ResponseInputLength = (3 * DigestAlgorithms.MaxHexSize) + (3 * DigestCredentials.MaxValueLength) + 16;

    private readonly NonceService _nonces;
    private readonly NonceCountTracker _nonceCounts;
    private readonly int _accepted;
    // Stands in for HA1 when the user is unknown, so that path costs what a wrong password costs.
    private readonly byte[] _decoyHa1 = new byte[DigestAlgorithms.MaxHexSize];

    /// <param name="nonces">Issues and checks the nonces the challenges carry.</param>
    /// <param name="nonceCounts">Remembers nonce counts to refuse replays.</param>
    /// <param name="algorithms">The algorithms the challenges offer; credentials using any other fail.</param>
    public DigestVerifier(NonceService nonces, NonceCountTracker nonceCounts, ReadOnlySpan<DigestAlgorithm> algorithms)
    {
        ArgumentNullException.ThrowIfNull(nonces);
        ArgumentNullException.ThrowIfNull(nonceCounts);
        if (algorithms.IsEmpty)
            throw new ArgumentException("At least one digest algorithm must be accepted.", nameof(algorithms));
        foreach (var algorithm in algorithms)
        {
            if (!DigestAlgorithms.IsDefined(algorithm))
                throw new ArgumentOutOfRangeException(nameof(algorithms), algorithm, "Unknown digest algorithm.");
            _accepted |= 1 << (int)algorithm;
        }
        _nonces = nonces;
        _nonceCounts = nonceCounts;
        Span<byte> random = stackalloc byte[DigestAlgorithms.MaxHashSize];
        RandomNumberGenerator.Fill(random);
        DigestAlgorithms.HexLower(random, _decoyHa1);
    }

    public bool Accepts(DigestAlgorithm algorithm) => DigestAlgorithms.IsDefined(algorithm) && (_accepted & (1 << (int)algorithm)) != 0;

    /// <summary>
    /// Checks credentials a request carried against the user's stored secret. An unknown user
    /// (<paramref name="stored"/> null) takes the same path, and gets the same answer, as a wrong password.
    /// </summary>
    /// <param name="credentials">The parsed Authorization or Proxy-Authorization value.</param>
    /// <param name="method">The request's method, e.g. <c>REGISTER</c>.</param>
    /// <param name="realm">The realm this server challenged with (UTF-8).</param>
    /// <param name="stored">The credential of the user named in the request; null when there is none.</param>
    /// <param name="nowMs">Now, in Unix milliseconds (the clock the nonces were issued by).</param>
    /// <param name="retransmission">Identifies the request, so that a retransmission is not taken for a replay (see <see cref="NonceCountTracker.TryUse"/>); 0 when unknown.</param>
    public DigestVerification Verify(scoped in DigestCredentials credentials, ReadOnlySpan<byte> method, ReadOnlySpan<byte> realm, StoredCredential? stored, long nowMs, ulong retransmission = 0)
    {
        if (credentials.UserHash
            || !DigestAlgorithms.TryParse(credentials.Algorithm, out var algorithm) || !Accepts(algorithm)
            || (credentials.HasQop && !Ascii.EqualsIgnoreCase(credentials.Qop, "auth"u8))
            || method.Length > MaxMethodLength)
            return DigestVerification.Failed;

        // One scratch buffer per value that may be unescaped: they are all live until the end.
        Span<byte> realmScratch = stackalloc byte[DigestCredentials.MaxValueLength];
        if (!DigestCredentials.Unquote(credentials.Realm, realmScratch).SequenceEqual(realm))
            return DigestVerification.Failed;

        Span<byte> nonceScratch = stackalloc byte[DigestCredentials.MaxValueLength];
        var nonce = DigestCredentials.Unquote(credentials.Nonce, nonceScratch);
        var lifetime = stored?.NonceLifetimeSeconds ?? StoredCredential.DefaultNonceLifetimeSeconds;
        var nonceStatus = _nonces.Verify(nonce, realm, nowMs, lifetime, out var issuedAtMs);
        if (nonceStatus == NonceStatus.Invalid)
            return DigestVerification.Failed;

        Span<byte> usernameScratch = stackalloc byte[DigestCredentials.MaxValueLength];
        var known = stored != null
            && stored.Supports(algorithm)
            && stored.Realm.SequenceEqual(realm)
            && DigestCredentials.Unquote(credentials.Username, usernameScratch).SequenceEqual(stored.Username);
        var ha1 = known ? stored!.Ha1(algorithm) : _decoyHa1.AsSpan(0, DigestAlgorithms.HashSize(algorithm) * 2);

        Span<byte> uriScratch = stackalloc byte[DigestCredentials.MaxValueLength];
        Span<byte> cnonceScratch = stackalloc byte[DigestCredentials.MaxValueLength];
        Span<byte> expected = stackalloc byte[DigestAlgorithms.MaxHexSize];
        var length = ComputeResponse(algorithm, ha1, nonce,
            credentials.HasQop ? credentials.NonceCountText : default,
            credentials.HasQop ? DigestCredentials.Unquote(credentials.Cnonce, cnonceScratch) : default,
            credentials.Qop, method, DigestCredentials.Unquote(credentials.Uri, uriScratch), expected);

        var matches = ResponseEquals(expected[..length], credentials.Response);
        if (!matches || !known)
            return DigestVerification.Failed;
        if (nonceStatus == NonceStatus.Stale)
            return DigestVerification.Stale;
        return _nonceCounts.Use(nonce, issuedAtMs, credentials.NonceCount, credentials.HasQop, retransmission) switch
        {
            NonceUse.Accepted => DigestVerification.Authenticated,
            // Possibly evicted, not seen again: a fresh challenge, not a failed attempt.
            NonceUse.Forgotten => DigestVerification.Stale,
            _ => DigestVerification.Replayed,
        };
    }

    /// <summary>HA1 = H(username:realm:password) as lower-case hex; returns the characters written.</summary>
    public static int ComputeHa1(DigestAlgorithm algorithm, ReadOnlySpan<byte> username, ReadOnlySpan<byte> realm, ReadOnlySpan<byte> password, Span<byte> hexDestination)
    {
        byte[]? rented = null;
        var length = username.Length + realm.Length + password.Length + 2;
        var input = length <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            var joiner = new ColonJoiner(input);
            joiner.Add(username);
            joiner.Add(realm);
            joiner.Add(password);
            return DigestAlgorithms.HashToHex(algorithm, joiner.Written, hexDestination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input[..length]);
            if (rented != null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// The request-digest as lower-case hex; returns the characters written. With an empty
    /// <paramref name="qop"/>, the RFC 2069 form H(HA1:nonce:HA2) and <paramref name="nonceCount"/>
    /// and <paramref name="cnonce"/> are not used. All values unquoted.
    /// </summary>
    public static int ComputeResponse(DigestAlgorithm algorithm, ReadOnlySpan<byte> ha1Hex, ReadOnlySpan<byte> nonce,
        ReadOnlySpan<byte> nonceCount, ReadOnlySpan<byte> cnonce, ReadOnlySpan<byte> qop,
        ReadOnlySpan<byte> method, ReadOnlySpan<byte> uri, Span<byte> hexDestination)
    {
        Span<byte> ha2 = stackalloc byte[DigestAlgorithms.MaxHexSize];
        byte[]? rented = null;
        var ha2InputLength = method.Length + uri.Length + 1;
        var ha2Input = ha2InputLength <= Ha2InputLength ? stackalloc byte[Ha2InputLength] : (rented = ArrayPool<byte>.Shared.Rent(ha2InputLength));
        try
        {
            var joiner = new ColonJoiner(ha2Input);
            joiner.Add(method);
            joiner.Add(uri);
            ha2 = ha2[..DigestAlgorithms.HashToHex(algorithm, joiner.Written, ha2)];
        }
        finally
        {
            if (rented != null)
                ArrayPool<byte>.Shared.Return(rented);
        }

        rented = null;
        var inputLength = ha1Hex.Length + nonce.Length + nonceCount.Length + cnonce.Length + qop.Length + ha2.Length + 5;
        var input = inputLength <= ResponseInputLength ? stackalloc byte[ResponseInputLength] : (rented = ArrayPool<byte>.Shared.Rent(inputLength));
        try
        {
            var joiner = new ColonJoiner(input);
            joiner.Add(ha1Hex);
            joiner.Add(nonce);
            if (!qop.IsEmpty)
            {
                joiner.Add(nonceCount);
                joiner.Add(cnonce);
                joiner.Add(qop);
            }
            joiner.Add(ha2);
            return DigestAlgorithms.HashToHex(algorithm, joiner.Written, hexDestination);
        }
        finally
        {
            if (rented != null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // The client's hex may be upper-case; the comparison itself is constant-time.
    private static bool ResponseEquals(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> response)
    {
        if (response.Length != expected.Length)
            return false;
        Span<byte> lower = stackalloc byte[DigestAlgorithms.MaxHexSize];
        lower = lower[..response.Length];
        Ascii.ToLower(response, lower, out _);
        return CryptographicOperations.FixedTimeEquals(expected, lower);
    }

    /// <summary>Writes values separated by colons: the digest inputs' format.</summary>
    private ref struct ColonJoiner
    {
        private readonly Span<byte> _destination;
        private int _length;
        private bool _any;

        public ColonJoiner(Span<byte> destination) => _destination = destination;

        public readonly ReadOnlySpan<byte> Written => _destination[.._length];

        public void Add(ReadOnlySpan<byte> value)
        {
            if (_any)
                _destination[_length++] = (byte)':';
            _any = true;
            value.CopyTo(_destination[_length..]);
            _length += value.Length;
        }
    }
}
