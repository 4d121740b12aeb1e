using System.Collections.Concurrent;
using PjSharp.Interception.Security;
using PjSharp.Interop;
using System.Text;
using PjSharp.Messages;

namespace PjSharp.Interception.Stages;

/// <summary>Digest authentication settings.</summary>
public sealed class AuthenticationOptions
{
    /// <summary>Algorithms offered, strongest first in the challenge. Default: MD5, which every phone speaks.</summary>
    public IList<DigestAlgorithm> Algorithms { get; } = new List<DigestAlgorithm>();

    /// <summary>Methods let through without credentials (keep-alive probes). Default: OPTIONS.</summary>
    public ISet<string> UnauthenticatedMethods { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The key nonces are signed with, at least 16 bytes: nodes that share it accept each other's nonces (a challenge
    /// from one node answered to another). Null: a random key per process.
    /// </summary>
    public byte[]? NonceSecret { get; set; }

    /// <summary>Nonces remembered for replay protection.</summary>
    public int NonceCountCapacity { get; set; } = NonceCountTracker.DefaultCapacity;
}

/// <summary>
/// Digest authentication (RFC 7616, RFC 8760, RFC 3261 §22): a request of an endpoint with
/// auths (or of the artificial endpoint) without valid credentials gets 401 with one challenge
/// per algorithm, answered statelessly: the nonce carries its own proof, so the server keeps no
/// state until a client answers. Expired nonces get <c>stale=true</c>; nonce counts are checked
/// against replay; an unknown user and a wrong password get the same answer after the same work.
/// Runs inline on the pjsip worker thread and allocates nothing.
/// </summary>
public sealed unsafe class AuthenticationStage : InterceptionStage
{
    private const int HeaderBufferSize = DigestCredentials.MaxHeaderLength + 64;
    private readonly SecurityEvents _events;
    private readonly FloodProtection? _flood;
    private readonly TimeProvider _time;
    private readonly NonceService _nonces;
    private readonly DigestVerifier _verifier;
    private readonly DigestAlgorithm[] _algorithms;
    private readonly HashSet<string> _unauthenticated;
    private readonly ConcurrentDictionary<string, DigestChallenge> _challenges = new(StringComparer.Ordinal);
    private readonly ulong _seed = (ulong)Random.Shared.NextInt64();

    public AuthenticationStage(SecurityEvents events, FloodProtection? flood = null, AuthenticationOptions? options = null, TimeProvider? time = null)
        : base("authenticate", InterceptionOrder.Authenticate)
    {
        ArgumentNullException.ThrowIfNull(events);
        options ??= new AuthenticationOptions();
        _events = events;
        _flood = flood;
        _time = time ?? TimeProvider.System;
        _algorithms = options.Algorithms.Count > 0 ? [.. options.Algorithms.Distinct()] : [DigestAlgorithm.Md5];
        _unauthenticated = options.UnauthenticatedMethods.Count > 0
            ? new HashSet<string>(options.UnauthenticatedMethods, StringComparer.OrdinalIgnoreCase)
            : new HashSet<string>(["OPTIONS"], StringComparer.OrdinalIgnoreCase);
        _nonces = options.NonceSecret is { } secret ? new NonceService(secret) : new NonceService();
        _verifier = new DigestVerifier(_nonces, new NonceCountTracker(options.NonceCountCapacity), _algorithms);
    }

    private static bool IsKnownDialog(SipRequest request)
    {
        var rdata = request.Native;
        var callId = rdata->msg_info.cid;
        var from = rdata->msg_info.from;
        var to = rdata->msg_info.to;
        if (callId == null || from == null || to == null)
            return false;
        // Our tag is the To tag of a request we receive.
        return PjsipSipUaLayer.pjsip_ua_find_dialog(&callId->id, &to->tag, &from->tag, 0) != null;
    }

    public override InterceptionVerdict OnRequest(ref InterceptionContext context)
    {
        var request = context.Request;
        var method = request.Method;
        // ACK and CANCEL cannot be challenged (RFC 3261 §22.1); they follow an INVITE that was.
        if (method is SipMethod.Ack or SipMethod.Cancel)
            return InterceptionVerdict.Continue;
        var endpoint = context.Endpoint ?? context.Directory.Artificial;
        if (!endpoint.RequiresAuthentication || IsUnauthenticated(request.MethodName))
            return InterceptionVerdict.Continue;
        // A request inside a dialog this server holds follows a request that was authenticated
        // (as Asterisk does, in-dialog requests are not challenged: phones rarely answer it).
        if (request.IsInDialog && IsKnownDialog(request))
            return InterceptionVerdict.Continue;

        // Probing user names: counted only for what would be challenged, so keep-alives stay free.
        if (endpoint.IsArtificial && _flood != null && _flood.RecordUnidentified(context.Source))
        {
            _events.SourceBlocked(context.Source);
            return InterceptionVerdict.Stop;
        }
        var challenge = Challenge(endpoint.Realm);
        var authorization = request.DigestAuthorization;
        if (authorization == null)
        {
            _events.ChallengeSent(context.Source, endpoint.Id);
            SendChallenge(ref context, challenge, stale: false);
            return InterceptionVerdict.Stop;
        }

        // The header as the client wrote it: pjsip's parse keeps one value per parameter, so a
        // repeated or oversized parameter is only visible in the raw bytes.
        Span<byte> buffer = stackalloc byte[HeaderBufferSize];
        var value = RawAuthorization(request.RawMessage, buffer);
        if (value.IsEmpty)
        {
            int printed;
            fixed (byte* pointer = buffer)
                printed = PjsipSipMsg.pjsip_hdr_print_on(authorization, pointer, HeaderBufferSize);
            if (printed <= 0)
                return Reject(ref context, 400);
            ReadOnlySpan<byte> line = buffer[..printed];
            value = line[(line.IndexOf((byte)':') + 1)..].TrimStart((byte)' ');
        }
        var parsed = DigestCredentials.TryParse(value, out var credentials);
        if (parsed is DigestParseResult.Malformed or DigestParseResult.Oversized)
            return Reject(ref context, 400);

        Span<byte> username = stackalloc byte[DigestCredentials.MaxValueLength];
        var stored = endpoint.FindCredential(DigestCredentials.Unquote(credentials.Username, username));
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var verdict = _verifier.Verify(credentials, request.MethodName, challenge.RealmBytes, stored, now, Fingerprint(request));
        switch (verdict)
        {
            case DigestVerification.Authenticated:
                context.Authenticated = true;
                _events.AuthenticationSucceeded(context.Source, endpoint.Id);
                return InterceptionVerdict.Continue;
            case DigestVerification.Stale:
                _events.ChallengeSent(context.Source, endpoint.Id);
                SendChallenge(ref context, challenge, stale: true);
                return InterceptionVerdict.Stop;
            default:
                _events.AuthenticationFailed(context.Source, endpoint.Id, verdict == DigestVerification.Replayed ? "replayed nonce count" : "wrong credentials");
                if (_flood != null && _flood.RecordFailedAuthentication(context.Source))
                {
                    _events.SourceBlocked(context.Source);
                    return InterceptionVerdict.Stop;
                }
                SendChallenge(ref context, challenge, stale: verdict == DigestVerification.Replayed);
                return InterceptionVerdict.Stop;
        }
    }

    /// <summary>
    /// The value of the first Digest Authorization header in the raw message, unfolded into
    /// <paramref name="destination"/>; empty when there is none or it does not fit.
    /// </summary>
    internal static ReadOnlySpan<byte> RawAuthorization(ReadOnlySpan<byte> message, Span<byte> destination)
    {
        var end = message.IndexOf("\r\n\r\n"u8);
        var head = end < 0 ? message : message[..end];
        var position = 0;
        while (position < head.Length)
        {
            var next = head[position..].IndexOf("\r\n"u8);
            var line = next < 0 ? head[position..] : head[position..(position + next)];
            position = next < 0 ? head.Length : position + next + 2;
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || !Ascii.EqualsIgnoreCase(line[..colon].TrimEnd((byte)' ').TrimEnd((byte)'\t'), "Authorization"u8))
                continue;
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (!value.StartsWith("Digest"u8) && !value.StartsWith("digest"u8) && !value.StartsWith("DIGEST"u8))
                continue;
            var length = 0;
            if (value.Length > destination.Length)
                return default;
            value.CopyTo(destination);
            length = value.Length;
            // Continuation lines (RFC 3261 §7.3.1) start with white space.
            while (position < head.Length && (head[position] == (byte)' ' || head[position] == (byte)'\t'))
            {
                next = head[position..].IndexOf("\r\n"u8);
                var more = (next < 0 ? head[position..] : head[position..(position + next)]).Trim((byte)' ').Trim((byte)'\t');
                position = next < 0 ? head.Length : position + next + 2;
                if (length + 1 + more.Length > destination.Length)
                    return default;
                destination[length++] = (byte)' ';
                more.CopyTo(destination[length..]);
                length += more.Length;
            }
            return destination[..length];
        }
        return default;
    }

    private bool IsUnauthenticated(ReadOnlySpan<byte> method)
    {
        if (method.Length > 32)
            return false;
        Span<char> name = stackalloc char[32];
        var length = System.Text.Encoding.ASCII.GetChars(method, name);
        return _unauthenticated.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name[..length]);
    }

    private DigestChallenge Challenge(string realm) =>
        _challenges.TryGetValue(realm, out var challenge) ? challenge : _challenges.GetOrAdd(realm, r => new DigestChallenge(r, _algorithms));

    // Call-ID, CSeq and Via branch: what a retransmission repeats and a new request does not.
    private ulong Fingerprint(SipRequest request)
    {
        var low = new HashCode();
        low.Add(_seed);
        low.AddBytes(request.CallIdBytes);
        low.Add(request.CSeq);
        low.AddBytes(request.ViaBranchBytes);
        var high = new HashCode();
        high.Add(~_seed);
        high.AddBytes(request.ViaBranchBytes);
        high.AddBytes(request.CallIdBytes);
        var value = ((ulong)(uint)high.ToHashCode() << 32) | (uint)low.ToHashCode();
        return value == 0 ? 1 : value;
    }

    private void SendChallenge(ref InterceptionContext context, DigestChallenge challenge, bool stale)
    {
        var rdata = context.Request.Native;
        var tdata = StatelessResponse.Create(context.SipEndpoint, rdata, 401);
        try
        {
            Span<byte> nonce = stackalloc byte[NonceService.NonceLength];
            var nonceLength = _nonces.Create(nonce, challenge.RealmBytes, _time.GetUtcNow().ToUnixTimeMilliseconds());
            Span<byte> value = stackalloc byte[challenge.MaxLength(nonceLength)];
            for (var i = 0; i < challenge.Algorithms.Length; i++)
            {
                var length = challenge.Write(i, nonce[..nonceLength], stale, value);
                StatelessResponse.AddHeader(tdata, "WWW-Authenticate"u8, value[..length]);
            }
        }
        catch
        {
            _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
            throw;
        }
        StatelessResponse.Send(context.SipEndpoint, rdata, tdata);
    }

    private static InterceptionVerdict Reject(ref InterceptionContext context, int statusCode)
    {
        StatelessResponse.Respond(context.SipEndpoint, context.Request.Native, statusCode);
        return InterceptionVerdict.Stop;
    }
}
