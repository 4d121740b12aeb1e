using System.Globalization;
using Microsoft.Extensions.Logging;
using PjSharp.Media;
using PjSharp.Sessions;

namespace Samples.Sdp;

/// <summary>
/// The party responsible for <c>m=text</c> in every call: it answers an offer of T.140 text
/// (<c>t140/1000</c>) with a UDP port of its own and logs what arrives there. pjmedia has no text
/// stream, so the handler owns its socket; pjmedia's negotiator still does the offer/answer
/// matching. Handlers run on the call's servant, one call at a time, and must not block.
/// </summary>
internal sealed class RealTimeTextHandler(ILogger<RealTimeTextHandler> logger) : SdpHandler
{
    /// <summary>The payload type this side offers (dynamic; an answer uses the offerer's).</summary>
    private const string OfferedPayloadType = "98";

    public override string MediaType => "text";

    public override SdpMediaDescription? CreateOffer(SipSession session, SdpDirection direction) =>
        Describe(session, OfferedPayloadType, direction);

    public override SdpMediaDescription? CreateAnswer(SipSession session, SdpMediaDescription offer, SdpDirection direction)
    {
        // Plain T.140 only: an offer of just redundant text (red) or anything else is declined.
        var t140 = offer.Formats.Find(format => string.Equals(offer.EncodingOf(format), "t140", StringComparison.OrdinalIgnoreCase));
        return t140 == null ? null : Describe(session, t140, direction);
    }

    public override void Apply(SipSession session, SdpMediaDescription local, SdpMediaDescription remote)
    {
        // Negotiation is over: a declined or disabled stream (port 0) has nothing to receive.
        if (local.Port == 0 || remote.Port == 0)
            return;
        var payloadType = int.Parse(local.Formats[0], CultureInfo.InvariantCulture);
        TextStream.Find(session)?.Start(session.CallId, payloadType, logger);
    }

    public override void Release(SipSession session) => TextStream.Find(session)?.Dispose();

    private static SdpMediaDescription Describe(SipSession session, string payloadType, SdpDirection direction)
    {
        // The same socket for the whole call: a re-INVITE offers or answers again with its port.
        var stream = TextStream.GetOrOpen(session);
        var description = new SdpMediaDescription
        {
            Media = "text",
            Port = stream.Port,
            Transport = "RTP/AVP",
            ConnectionAddress = session.MediaAddress,
            Formats = { payloadType },
        };
        description.Attributes.Add(new SdpAttributeLine("rtpmap", $"{payloadType} t140/1000"));
        description.Direction = direction;
        return description;
    }
}
