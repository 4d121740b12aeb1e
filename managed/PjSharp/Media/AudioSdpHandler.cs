using System.Globalization;
using PjSharp.DataAccess;
using PjSharp.Interop;
using PjSharp.Sessions;

namespace PjSharp.Media;

/// <summary>
/// The built-in audio handler: RTP/RTCP through pjmedia on a port from the session service's
/// range, the endpoint's codecs (<c>allow</c>: ulaw, alaw, g722 are served), RFC 4733
/// telephone-events unless the endpoint's <c>dtmf_mode</c> rules them out, and
/// <c>rtp_symmetric</c> (answer RTP where it comes from). Each session gets an <see cref="AudioChannel"/>.
/// WebRTC endpoints (<c>webrtc=yes</c>, or <c>use_avpf</c>, <c>ice_support</c>, <c>rtcp_mux</c>,
/// <c>media_encryption=dtls</c> one by one) get UDP/TLS/RTP/SAVPF with ICE and DTLS-SRTP, whose
/// attributes pjmedia's transports write; <c>allow=opus</c> offers Opus (48000/2).
/// </summary>
public sealed unsafe class AudioSdpHandler : SdpHandler
{
    /// <summary>The payload type offered for telephone-event.</summary>
    public const int TelephoneEventPayloadType = 101;

    /// <summary>The payload type offered for Opus (the one browsers use).</summary>
    public const int OpusPayloadType = 111;

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
            ["opus"] = (OpusPayloadType, "opus/48000/2"),
        };

    public override SdpMediaDescription? CreateOffer(SipSession session, SdpDirection direction)
    {
        ArgumentNullException.ThrowIfNull(session);
        var channel = AudioChannel.GetOrOpen(session);
        var stream = new SdpMediaDescription
        {
            Media = "audio",
            Port = channel.LocalPort,
            // The DTLS transport rewrites it (UDP/TLS/RTP/SAVP, plus F for AVPF) in EncodeTransport.
            Transport = channel.UsesAvpf ? "RTP/AVPF" : "RTP/AVP",
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
            if (codec.PayloadType == OpusPayloadType)
                stream.Attributes.Add(new SdpAttributeLine("fmtp", $"{payloadType} useinbandfec=1"));
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
        // ICE checks the default RTCP address against the candidates: name it when it is not RTP's + 1
        // (with rtcp-mux offered, pjmedia's ICE writes the line itself).
        if (channel.UsesIce && !channel.UsesRtcpMux && channel.LocalRtcpPort != channel.LocalPort + 1)
            stream.Attributes.Add(new SdpAttributeLine("rtcp", channel.LocalRtcpPort.ToString(CultureInfo.InvariantCulture)));
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
        // DTLS-SRTP is mandatory when configured: an offer of plain RTP is declined (488).
        if (session.Endpoint.EffectiveMedia.Encryption == MediaEncryption.Dtls && !offer.Transport.StartsWith("UDP/TLS/RTP/SAVP", StringComparison.Ordinal))
            return null;
        foreach (var name in Allowed(session))
        {
            if (!SupportedCodecs.TryGetValue(name, out var codec))
                continue;
            var encoding = codec.RtpMap[..codec.RtpMap.IndexOf('/', StringComparison.Ordinal)];
            if (!offer.Formats.Exists(f => string.Equals(offer.EncodingOf(f), encoding, StringComparison.OrdinalIgnoreCase)))
                continue;
            var answer = CreateOffer(session, direction);
            // Browsers name their m= lines (a=mid, RFC 5888) and look for the name in the answer.
            if (answer != null && offer.GetAttribute("mid") is { Length: > 0 } mid)
                answer.Attributes.Add(new SdpAttributeLine("mid", mid));
            return answer;
        }
        return null;
    }

    public override void Apply(SipSession session, SdpMediaDescription local, SdpMediaDescription remote)
    {
        ArgumentNullException.ThrowIfNull(session);
        AudioChannel.GetOrOpen(session).Apply(local, remote);
    }

    internal override void EncodeTransport(SipSession session, pj_pool_t* pool, pjmedia_sdp_session* local, int localIndex,
        pjmedia_sdp_session* remote, int remoteIndex) =>
        AudioChannel.Find(session)?.EncodeTransportSdp(pool, local, localIndex, remote, remoteIndex);

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
