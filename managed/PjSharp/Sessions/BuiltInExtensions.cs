using PjSharp.DataAccess;

namespace PjSharp.Sessions;

/// <summary>
/// Caller identity: reads P-Asserted-Identity (then Remote-Party-ID) from endpoints trusted with
/// <c>trust_id_inbound</c>, else From; adds P-Asserted-Identity (<c>send_pai</c>) and
/// Remote-Party-ID (<c>send_rpid</c>) with this side's identity to outgoing INVITEs and to
/// answers of incoming ones.
/// </summary>
public sealed class CallerIdentityExtension() : SessionExtension("caller-identity", -100, "INVITE")
{
    public override bool OnIncomingRequest(SipSession session, SipRequest request)
    {
        if (request.IsInDialog || !session.Endpoint.TrustIdInbound)
            return true;
        var identity = FromHeader(request.GetHeader("P-Asserted-Identity"), IdentitySource.PAssertedIdentity)
            ?? FromHeader(request.GetHeader("Remote-Party-ID"), IdentitySource.RemotePartyId);
        if (identity != null)
            session.RemoteIdentity = identity;
        return true;
    }

    public override void OnOutgoingRequest(SipSession session, SipOutgoingMessage request)
    {
        if (session.Direction == SessionDirection.Outbound && session.State is SessionState.Null or SessionState.Calling)
            AddIdentity(session, request, "calling");
    }

    public override void OnOutgoingResponse(SipSession session, SipOutgoingMessage response)
    {
        if (session.Direction == SessionDirection.Inbound && response.StatusCode is > 100 and < 300 && session.IsIncomingInvitePending)
            AddIdentity(session, response, "called");
    }

    private static void AddIdentity(SipSession session, SipOutgoingMessage message, string party)
    {
        var endpoint = session.Endpoint;
        if (!endpoint.SendPai && !endpoint.SendRpid)
            return;
        var identity = session.LocalIdentity ?? Configured(session);
        if (identity == null)
            return;
        if (endpoint.SendPai && message.GetHeader("P-Asserted-Identity") == null)
            message.AddHeader("P-Asserted-Identity", identity.ToString());
        if (endpoint.SendRpid && message.GetHeader("Remote-Party-ID") == null)
            message.AddHeader("Remote-Party-ID", $"{identity};party={party};privacy=off;screen=no");
    }

    private static SessionIdentity? Configured(SipSession session)
    {
        var callerId = session.Endpoint.CallerId;
        if (callerId.Number.Length == 0 && callerId.Name.Length == 0)
            return null;
        var user = callerId.Number.Length > 0 ? callerId.Number : "anonymous";
        var domain = session.Endpoint.FromDomain.Length > 0 ? session.Endpoint.FromDomain : session.MediaAddress;
        if (domain.Contains(':', StringComparison.Ordinal) && !domain.StartsWith('['))
            domain = $"[{domain}]";
        return new SessionIdentity(callerId.Name.Length > 0 ? callerId.Name : null, user, $"sip:{user}@{domain}", IdentitySource.Configured);
    }

    /// <summary>Reads <c>"Name" &lt;sip:user@host&gt;;params</c> (or a bare URI); null when it is not one.</summary>
    public static SessionIdentity? FromHeader(string? value, IdentitySource source)
    {
        if (string.IsNullOrWhiteSpace(value))
            return null;
        value = value.Trim();
        string? name = null;
        string uri;
        var open = value.IndexOf('<', StringComparison.Ordinal);
        if (open >= 0)
        {
            var close = value.IndexOf('>', open);
            if (close < 0)
                return null;
            uri = value[(open + 1)..close].Trim();
            var display = value[..open].Trim();
            if (display.Length >= 2 && display[0] == '"' && display[^1] == '"')
                display = display[1..^1].Replace("\\\"", "\"", StringComparison.Ordinal);
            name = display.Length > 0 ? display : null;
        }
        else
        {
            var semicolon = value.IndexOf(';', StringComparison.Ordinal);
            uri = semicolon < 0 ? value : value[..semicolon];
        }
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
            return null;
        var rest = uri[(colon + 1)..];
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        var user = at < 0 ? (uri.StartsWith("tel:", StringComparison.OrdinalIgnoreCase) ? rest.Split(';')[0] : "") : rest[..at];
        return new SessionIdentity(name, user, uri, source);
    }
}

/// <summary>Session timers (RFC 4028) through pjsip's, as the endpoint's <c>timers</c>, <c>timers_min_se</c>, <c>timers_sess_expires</c> say.</summary>
public sealed class SessionTimersExtension() : SessionExtension("session-timers", -90, "INVITE")
{
    public override void OnSessionCreating(SessionSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var endpoint = setup.Endpoint;
        setup.SupportTimers = endpoint.Timers != SessionTimersMode.No;
        setup.RequireTimers = endpoint.Timers == SessionTimersMode.Required;
        setup.AlwaysUseTimers = endpoint.Timers == SessionTimersMode.Always;
        setup.MinSessionExpires = endpoint.TimersMinSe;
        setup.SessionExpires = endpoint.TimersSessExpires;
    }
}

/// <summary>Reliable provisional responses (RFC 3262, 100rel/PRACK) through pjsip's, as the endpoint's <c>100rel</c> says.</summary>
public sealed class ReliableProvisionalExtension() : SessionExtension("100rel", -80, "INVITE")
{
    public override void OnSessionCreating(SessionSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var mode = setup.Endpoint.Rel100;
        setup.Support100Rel = mode is Rel100Mode.Yes or Rel100Mode.PeerSupported or Rel100Mode.Required;
        setup.Require100Rel = mode == Rel100Mode.Required;
        setup.Use100RelWhenSupported = mode == Rel100Mode.PeerSupported;
    }
}
