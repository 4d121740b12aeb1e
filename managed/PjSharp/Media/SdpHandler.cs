using PjSharp.Interop;
using PjSharp.Sessions;

namespace PjSharp.Media;

/// <summary>
/// The party responsible for one media type (<c>audio</c>, <c>video</c>, ...) in every session:
/// it writes that type's streams into outgoing offers and answers and applies what was
/// negotiated. pjmedia's negotiator does the offer/answer matching between them. Offered
/// streams of a type that no handler takes are declined with port 0 (RFC 3264 §6).
/// Handlers run on the session's servant, in order with the rest of its work; they must not block.
/// </summary>
public abstract unsafe class SdpHandler
{
    /// <summary>The media type this handler owns, as in the <c>m=</c> line.</summary>
    public abstract string MediaType { get; }

    /// <summary>The stream to offer (a new session, a re-INVITE or UPDATE), or null to offer none.</summary>
    public abstract SdpMediaDescription? CreateOffer(SipSession session, SdpDirection direction);

    /// <summary>
    /// What this side supports for an offered stream, or null to decline it. pjmedia's negotiator
    /// turns it into the answer (common formats, the answering direction).
    /// </summary>
    public virtual SdpMediaDescription? CreateAnswer(SipSession session, SdpMediaDescription offer, SdpDirection direction) =>
        CreateOffer(session, direction);

    /// <summary>Offer/answer completed: start or change the stream as negotiated (local and remote are active).</summary>
    public abstract void Apply(SipSession session, SdpMediaDescription local, SdpMediaDescription remote);

    /// <summary>
    /// The built description, parsed: the stream's transports may add what only they know (ICE
    /// candidates, DTLS fingerprints). <paramref name="remote"/> is the offer when answering.
    /// </summary>
    internal virtual void EncodeTransport(SipSession session, pj_pool_t* pool, pjmedia_sdp_session* local, int localIndex,
        pjmedia_sdp_session* remote, int remoteIndex)
    {
    }

    /// <summary>The session ended: release what <see cref="CreateOffer"/> or <see cref="Apply"/> opened (called once, on the servant).</summary>
    public virtual void Release(SipSession session)
    {
    }
}
