using PjSharp.DataAccess;

namespace PjSharp.Sessions;

/// <summary>Who started the session.</summary>
public enum SessionDirection
{
    /// <summary>The peer sent the INVITE; this side answers (UAS).</summary>
    Inbound,

    /// <summary>This side sent the INVITE (UAC).</summary>
    Outbound,
}

/// <summary>Where a session is in its life (pjsip's INVITE session states).</summary>
public enum SessionState
{
    Null,
    Calling,
    Incoming,
    Early,
    Connecting,
    Confirmed,
    Disconnected,
}

/// <summary>Where a received DTMF digit came from.</summary>
public enum DtmfSource
{
    Rfc4733,
    SipInfo,
}

/// <summary>A DTMF digit received on a session.</summary>
public readonly record struct DtmfDigit(char Digit, DtmfSource Source);

/// <summary>Where an identity was read from.</summary>
public enum IdentitySource
{
    From,
    PAssertedIdentity,
    RemotePartyId,
    Configured,
}

/// <summary>A party's identity: display name, user (number) and URI.</summary>
public sealed record SessionIdentity(string? Name, string User, string Uri, IdentitySource Source)
{
    public override string ToString() => Name is { Length: > 0 } ? $"\"{Name}\" <{Uri}>" : $"<{Uri}>";
}

/// <summary>How a session ended.</summary>
/// <param name="StatusCode">The final status of the INVITE when it never connected (486, 487, ...), else 200.</param>
/// <param name="Reason">Why: the reason phrase, or what ended it (BYE from the peer, hangup, timeout).</param>
/// <param name="WasConnected">Whether the session was ever answered.</param>
public sealed record SessionEnd(int StatusCode, string Reason, bool WasConnected);

/// <summary>An in-dialog MESSAGE or INFO that is not DTMF, handed to the application.</summary>
public sealed record SessionMessage(string Method, string? ContentType, string Body);

/// <summary>
/// What an extension may set before pjsip's INVITE session is created: the pjsip features the
/// session offers or requires.
/// </summary>
public sealed class SessionSetup
{
    internal SessionSetup(Endpoint endpoint, SessionDirection direction)
    {
        Endpoint = endpoint;
        Direction = direction;
    }

    public Endpoint Endpoint { get; }

    public SessionDirection Direction { get; }

    /// <summary>Reliable provisional responses (RFC 3262): offer them.</summary>
    public bool Support100Rel { get; set; }

    /// <summary>Reliable provisional responses: require them.</summary>
    public bool Require100Rel { get; set; }

    /// <summary>Reliable provisional responses: use them when the caller's INVITE says <c>Supported: 100rel</c>.</summary>
    public bool Use100RelWhenSupported { get; set; }

    /// <summary>Session timers (RFC 4028): offer them.</summary>
    public bool SupportTimers { get; set; }

    /// <summary>Session timers: require them.</summary>
    public bool RequireTimers { get; set; }

    /// <summary>Session timers: use them even when the peer does not support them.</summary>
    public bool AlwaysUseTimers { get; set; }

    /// <summary>Session-Expires to ask for, in seconds.</summary>
    public uint SessionExpires { get; set; } = 1800;

    /// <summary>Min-SE to ask for, in seconds (pjsip's floor is 90).</summary>
    public uint MinSessionExpires { get; set; } = 90;
}

/// <summary>What an outgoing call needs.</summary>
public sealed class CallOptions
{
    /// <summary>The request URI to call, e.g. <c>sip:bob@192.0.2.10:5060</c>.</summary>
    public required string Target { get; init; }

    /// <summary>The From URI; defaults to the endpoint's from_user/from_domain or <c>sip:pjsharp@&lt;local address&gt;</c>.</summary>
    public string? From { get; init; }

    /// <summary>
    /// Who the call presents as calling, when <see cref="From"/> is not given: its display name and user
    /// go in From (at the endpoint's from_domain or the local address) and it becomes the session's
    /// <see cref="SipSession.LocalIdentity"/> for P-Asserted-Identity / Remote-Party-ID.
    /// </summary>
    public SessionIdentity? Caller { get; init; }

    /// <summary>The To URI; defaults to the target.</summary>
    public string? To { get; init; }

    /// <summary>The endpoint whose settings apply (codecs, outbound_auth, 100rel, timers, identity).</summary>
    public Endpoint? Endpoint { get; init; }

    /// <summary>Cancel the call when it is not answered within this time.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Extra headers for the INVITE.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>The application's object for this call.</summary>
    public object? Call { get; init; }

    /// <summary>The offer to send as is (SDP text): no SDP handler takes part and media passes end to end.</summary>
    public string? Sdp { get; init; }

    /// <summary>Runs on the new session's servant before its offer is built: set media preferences, identity, items.</summary>
    public Action<SipSession>? Prepare { get; init; }

    /// <summary>
    /// The trace the call continues; its INVITE carries a W3C <c>traceparent</c> for it. Default: the
    /// calling code's <see cref="System.Diagnostics.Activity.Current"/>.
    /// </summary>
    public System.Diagnostics.ActivityContext? TraceParent { get; init; }
}

/// <summary>A provisional response to an outgoing call.</summary>
/// <param name="StatusCode">180, 183, ...</param>
/// <param name="HasSdp">Whether it carried an SDP answer (early media).</param>
public sealed class SessionProgressEventArgs(int statusCode, bool hasSdp) : EventArgs
{
    public int StatusCode { get; } = statusCode;

    public bool HasSdp { get; } = hasSdp;
}

/// <summary>The peer's offer in a re-INVITE or UPDATE, answered: <see cref="Direction"/> is what the peer asked for (sendonly or inactive: hold).</summary>
public sealed class RemoteOfferEventArgs(string method, PjSharp.Media.SdpDirection direction) : EventArgs
{
    /// <summary>INVITE or UPDATE.</summary>
    public string Method { get; } = method;

    /// <summary>The direction of the peer's audio stream, seen from the peer.</summary>
    public PjSharp.Media.SdpDirection Direction { get; } = direction;

    /// <summary>The peer's offer as text, on a passthrough session (<see cref="SipSession.IsMediaPassthrough"/>); else null.</summary>
    public string? Sdp { get; init; }
}
