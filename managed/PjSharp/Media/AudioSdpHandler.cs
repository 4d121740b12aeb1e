using System.Globalization;
using PjSharp.DataAccess;
using PjSharp.Sessions;

namespace PjSharp.Media;

/// <summary>
/// The built-in audio handler: RTP/RTCP through pjmedia on a port from the session service's
/// range, the endpoint's codecs (<c>allow</c>: ulaw, alaw, g722 are served), RFC 4733
/// telephone-events unless the endpoint's <c>dtmf_mode</c> rules them out, and
/// <c>rtp_symmetric</c> (answer RTP where it comes from). Each session gets an <see cref="AudioChannel"/>.
/// </summary>
public sealed class AudioSdpHandler : SdpHandler
{
    /// <summary>The payload type offered for telephone-event.</summary>
    public const int TelephoneEventPayloadType = 101;

    private static readonly IReadOnlyList<string> DefaultCodecs = ["ulaw", "alaw", "g722"];

    public override string MediaType => "audio";

    /// <summary>The audio codecs this handler can offer, by their <c>allow</c> names.</summary>
    public static IReadOnlyDictionary<string, (int PayloadType, string RtpMap)> SupportedCodecs { get; } =
        new Dictionary<string, (int, string)>(StringComparer.OrdinalIgnoreCase)
        {
            ["ulaw"] = (0, "PCMU/8000"),
            ["alaw"] = (8, "PCMA/8000"),
            ["g722"] = (9, "G722/8000"),
            ["gsm"] = (3, "GSM/8000"),
        };

    public override SdpMediaDescription? CreateOffer(SipSession session, SdpDirection direction)
    {
        ArgumentNullException.ThrowIfNull(session);
        var channel = AudioChannel.GetOrOpen(session);
        var stream = new SdpMediaDescription
        {
            Media = "audio",
            Port = channel.LocalPort,
            Transport = "RTP/AVP",
            ConnectionAddress = channel.LocalAddress,
        };
        var endpoint = session.Endpoint;
        var preferences = session.MediaPreferences;
        foreach (var name in Allowed(session))
        {
            if (!SupportedCodecs.TryGetValue(name, out var codec))
                continue;
            var payloadType = codec.PayloadType.ToString(CultureInfo.InvariantCulture);
            stream.Formats.Add(payloadType);
            stream.Attributes.Add(new SdpAttributeLine("rtpmap", $"{payloadType} {codec.RtpMap}"));
        }
        if (stream.Formats.Count == 0)
            return null;
        if ((endpoint.DtmfMode is DtmfMode.Rfc4733 or DtmfMode.Auto or DtmfMode.AutoInfo) && (preferences?.TelephoneEvents ?? true))
        {
            var eventType = (preferences?.TelephoneEventPayloadType ?? TelephoneEventPayloadType).ToString(CultureInfo.InvariantCulture);
            stream.Formats.Add(eventType);
            stream.Attributes.Add(new SdpAttributeLine("rtpmap", $"{eventType} telephone-event/8000"));
            stream.Attributes.Add(new SdpAttributeLine("fmtp", $"{eventType} 0-16"));
        }
        stream.Attributes.Add(new SdpAttributeLine("ptime", "20"));
        stream.Direction = direction;
        return stream;
    }

    /// <summary>
    /// Declines an offered stream without a codec the endpoint allows, before opening any media:
    /// pjmedia's negotiation would fail only once the call is answered, and the caller would get 500
    /// instead of 488.
    /// </summary>
    public override SdpMediaDescription? CreateAnswer(SipSession session, SdpMediaDescription offer, SdpDirection direction)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(offer);
        foreach (var name in Allowed(session))
        {
            if (!SupportedCodecs.TryGetValue(name, out var codec))
                continue;
            var encoding = codec.RtpMap[..codec.RtpMap.IndexOf('/', StringComparison.Ordinal)];
            if (offer.Formats.Exists(f => string.Equals(offer.EncodingOf(f), encoding, StringComparison.OrdinalIgnoreCase)))
                return CreateOffer(session, direction);
        }
        return null;
    }

    public override void Apply(SipSession session, SdpMediaDescription local, SdpMediaDescription remote)
    {
        ArgumentNullException.ThrowIfNull(session);
        AudioChannel.GetOrOpen(session).Apply(local, remote);
    }

    private static IReadOnlyList<string> Allowed(SipSession session) =>
        session.MediaPreferences?.Codecs ?? (session.Endpoint.Allow.Count == 0 ? DefaultCodecs : [.. session.Endpoint.Allow]);

    /// <summary>The <c>allow</c> name of an RTP encoding (PCMU is ulaw), or null when this handler does not serve it.</summary>
    public static string? CodecName(string? encoding)
    {
        if (encoding == null)
            return null;
        foreach (var (name, codec) in SupportedCodecs)
        {
            if (codec.RtpMap.AsSpan(0, codec.RtpMap.IndexOf('/', StringComparison.Ordinal)).Equals(encoding, StringComparison.OrdinalIgnoreCase))
                return name;
        }
        return null;
    }

    public override void Release(SipSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        AudioChannel.Find(session)?.Close();
    }
}
