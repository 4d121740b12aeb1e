using System.Globalization;
using System.Net;

namespace PjSharp.Sessions;

/// <summary>The dialog a transfer replaces (RFC 3891): seen from this side, its Call-ID, our tag and the peer's.</summary>
public sealed record ReplacesTarget(string CallId, string LocalTag, string RemoteTag);

/// <summary>
/// A REFER received in a call (RFC 3515): the peer asks this side to call <see cref="ReferTo"/>
/// (blind transfer) or to join the call it names with <see cref="Replaces"/> (attended transfer,
/// RFC 3891). It was accepted with 202 and a first NOTIFY (100 Trying); the handler reports the
/// outcome with <see cref="NotifyAsync"/>, whose final status ends the implicit subscription.
/// </summary>
public sealed class TransferRequest
{
    private readonly SipSession _session;
    private int _finalSent;

    internal TransferRequest(SipSession session, string referTo, ReplacesTarget? replaces, string? referredBy, bool notify)
    {
        _session = session;
        ReferTo = referTo;
        Replaces = replaces;
        ReferredBy = referredBy;
        Notifies = notify;
        TargetUser = UserOf(referTo);
    }

    /// <summary>The session the REFER arrived on (the transferor's).</summary>
    public SipSession Session => _session;

    /// <summary>The URI to call, without its header part.</summary>
    public string ReferTo { get; }

    /// <summary>The user part of <see cref="ReferTo"/>.</summary>
    public string TargetUser { get; }

    /// <summary>For an attended transfer, the dialog to replace; null for a blind transfer.</summary>
    public ReplacesTarget? Replaces { get; }

    /// <summary>The Referred-By header value, if any.</summary>
    public string? ReferredBy { get; }

    /// <summary>Whether the peer wants NOTIFYs (false with <c>Refer-Sub: false</c>, RFC 4488).</summary>
    public bool Notifies { get; }

    /// <summary>
    /// Tells the transferor how the transfer goes: a NOTIFY whose message/sipfrag body is
    /// <c>SIP/2.0 {status} {reason}</c>. A final status (200 and up) terminates the subscription;
    /// later calls do nothing. The result is the NOTIFY's own final status.
    /// </summary>
    public async Task<int> NotifyAsync(int statusCode, string? reason = null)
    {
        if (statusCode is < 100 or > 699)
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "A SIP status code.");
        var final = statusCode >= 200;
        if (final && Interlocked.Exchange(ref _finalSent, 1) != 0)
            return 0;
        if (!Notifies)
            return 0;
        var phrase = reason ?? ReasonPhrase(statusCode);
        var state = final ? "terminated;reason=noresource" : "active;expires=60";
        return await _session.SendRequestAsync("NOTIFY", "message/sipfrag;version=2.0",
            string.Create(CultureInfo.InvariantCulture, $"SIP/2.0 {statusCode} {phrase}\r\n"),
            [new("Event", "refer"), new("Subscription-State", state)]).ConfigureAwait(false);
    }

    private static string ReasonPhrase(int statusCode) => statusCode switch
    {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        404 => "Not Found",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => statusCode < 300 ? "OK" : "Failed",
    };

    private static string UserOf(string uri)
    {
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var at = uri.IndexOf('@', StringComparison.Ordinal);
        return colon >= 0 && at > colon ? Uri.UnescapeDataString(uri[(colon + 1)..at]) : "";
    }

    /// <summary>Reads a Refer-To value: <c>&lt;sip:user@host?Replaces=...&gt;</c>. False when it is not a SIP URI.</summary>
    internal static bool TryParseReferTo(string value, out string uri, out ReplacesTarget? replaces)
    {
        uri = "";
        replaces = null;
        var text = value.Trim();
        var open = text.IndexOf('<', StringComparison.Ordinal);
        if (open >= 0)
        {
            var close = text.IndexOf('>', open + 1);
            if (close < 0)
                return false;
            text = text[(open + 1)..close];
        }
        if (!text.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) && !text.StartsWith("sips:", StringComparison.OrdinalIgnoreCase))
            return false;
        var question = text.IndexOf('?', StringComparison.Ordinal);
        uri = question < 0 ? text : text[..question];
        if (question < 0)
            return true;
        foreach (var header in text[(question + 1)..].Split('&'))
        {
            var equals = header.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0 || !header[..equals].Equals("Replaces", StringComparison.OrdinalIgnoreCase))
                continue;
            var parts = WebUtility.UrlDecode(header[(equals + 1)..]).Split(';');
            string? toTag = null, fromTag = null;
            foreach (var part in parts.Skip(1))
            {
                var pair = part.Split('=', 2);
                if (pair.Length != 2)
                    continue;
                if (pair[0].Trim().Equals("to-tag", StringComparison.OrdinalIgnoreCase))
                    toTag = pair[1].Trim();
                else if (pair[0].Trim().Equals("from-tag", StringComparison.OrdinalIgnoreCase))
                    fromTag = pair[1].Trim();
            }
            if (parts[0].Length == 0 || toTag == null || fromTag == null)
                return false;
            // The tags are those of the dialog as its recipient sees it: the to-tag is ours.
            replaces = new ReplacesTarget(parts[0].Trim(), toTag, fromTag);
        }
        return true;
    }
}
