namespace PjSharp.Media;

/// <summary>
/// Per-session choices that override the endpoint's for the audio SDP handler: which codecs to
/// offer or accept, the RFC 4733 payload type, and whether the session's RTP is handed to a
/// <see cref="MediaRelay"/> instead of a local stream. Set it on the session's servant before the
/// offer or answer is built (<see cref="Sessions.CallOptions.Prepare"/> for outgoing calls,
/// before answering for incoming ones with <see cref="Sessions.SipSession.DeferAnswer"/>).
/// </summary>
public sealed class MediaPreferences
{
    /// <summary>Codecs by their <c>allow</c> names (ulaw, alaw, g722, gsm), in preference order; null keeps the endpoint's.</summary>
    public IReadOnlyList<string>? Codecs { get; init; }

    /// <summary>Whether to offer RFC 4733 telephone-events (when the endpoint's dtmf_mode allows them).</summary>
    public bool TelephoneEvents { get; init; } = true;

    /// <summary>The payload type offered for telephone-event.</summary>
    public int TelephoneEventPayloadType { get; init; } = AudioSdpHandler.TelephoneEventPayloadType;

    /// <summary>No local stream: RTP goes only where a <see cref="MediaRelay"/> sends it.</summary>
    public bool Relayed { get; init; }
}
