namespace PjSharp.DataAccess;

/// <summary>A SIP peer's settings (<c>type=endpoint</c>), with Asterisk's option names and defaults.</summary>
public sealed record Endpoint(string Id) : SipObject(Id), ISipObject<Endpoint>
{
    /// <summary>The transport to use for requests to this endpoint (<c>transport</c>); empty for any.</summary>
    public string Transport { get; init; } = "";

    /// <summary>AORs that locate the endpoint (<c>aors</c>).</summary>
    public ValueList<string> Aors { get; init; }

    /// <summary>Auth objects that authenticate requests from it (<c>auth</c>).</summary>
    public ValueList<string> Auth { get; init; }

    /// <summary>Auth objects used when it challenges us (<c>outbound_auth</c>).</summary>
    public ValueList<string> OutboundAuth { get; init; }

    /// <summary>Dialplan context for its calls (<c>context</c>).</summary>
    public string Context { get; init; } = "default";

    /// <summary>Allowed codecs in preference order (<c>allow</c> / <c>disallow</c>).</summary>
    public ValueList<string> Allow { get; init; }

    /// <summary>Whether media may flow directly between peers (<c>direct_media</c>).</summary>
    public bool DirectMedia { get; init; } = true;

    /// <summary>How requests are matched to this endpoint (<c>identify_by</c>).</summary>
    public ValueList<IdentifyMethod> IdentifyBy { get; init; } = [IdentifyMethod.Username, IdentifyMethod.Ip];

    /// <summary>Caller id for its calls (<c>callerid</c>).</summary>
    public CallerId CallerId { get; init; } = new("", "");

    /// <summary>User part of From in requests to it (<c>from_user</c>).</summary>
    public string FromUser { get; init; } = "";

    /// <summary>Domain of From in requests to it (<c>from_domain</c>).</summary>
    public string FromDomain { get; init; } = "";

    /// <summary>DTMF method (<c>dtmf_mode</c>).</summary>
    public DtmfMode DtmfMode { get; init; } = DtmfMode.Rfc4733;

    /// <summary>Send RTP back where it came from (<c>rtp_symmetric</c>).</summary>
    public bool RtpSymmetric { get; init; }

    /// <summary>Act as if rport was in the Via (<c>force_rport</c>).</summary>
    public bool ForceRport { get; init; } = true;

    /// <summary>Rewrite the Contact with the source address (<c>rewrite_contact</c>).</summary>
    public bool RewriteContact { get; init; }

    /// <summary>Reliable provisional responses (<c>100rel</c>).</summary>
    public Rel100Mode Rel100 { get; init; } = Rel100Mode.Yes;

    /// <summary>Session timers (<c>timers</c>).</summary>
    public SessionTimersMode Timers { get; init; } = SessionTimersMode.Yes;

    /// <summary>Smallest session interval accepted, seconds (<c>timers_min_se</c>).</summary>
    public uint TimersMinSe { get; init; } = 90;

    /// <summary>Session interval asked for, seconds (<c>timers_sess_expires</c>).</summary>
    public uint TimersSessExpires { get; init; } = 1800;

    /// <summary>Media encryption (<c>media_encryption</c>).</summary>
    public MediaEncryption MediaEncryption { get; init; } = MediaEncryption.No;

    /// <summary>Send P-Asserted-Identity (<c>send_pai</c>).</summary>
    public bool SendPai { get; init; }

    /// <summary>Send Remote-Party-ID (<c>send_rpid</c>).</summary>
    public bool SendRpid { get; init; }

    /// <summary>Trust identity headers it sends (<c>trust_id_inbound</c>).</summary>
    public bool TrustIdInbound { get; init; }

    /// <summary>Send private identity to it (<c>trust_id_outbound</c>).</summary>
    public bool TrustIdOutbound { get; init; }

    /// <summary>Accept its SUBSCRIBE requests (<c>allow_subscribe</c>).</summary>
    public bool AllowSubscribe { get; init; } = true;

    /// <summary>Named ACL objects applied to its requests (<c>acl</c>).</summary>
    public ValueList<string> Acl { get; init; }

    /// <summary>Inline <c>permit</c>/<c>deny</c> rules, in order; the last matching rule decides.</summary>
    public ValueList<AclRule> AclRules { get; init; }

    /// <summary>Proxy for requests to it (<c>outbound_proxy</c>).</summary>
    public string OutboundProxy { get; init; } = "";

    /// <summary>ICE support (<c>ice_support</c>).</summary>
    public bool IceSupport { get; init; }

    /// <summary>Offer and answer the AVPF profile, RTP/AVPF or RTP/SAVPF (<c>use_avpf</c>).</summary>
    public bool UseAvpf { get; init; }

    /// <summary>RTP and RTCP on one port (<c>rtcp_mux</c>, RFC 5761).</summary>
    public bool RtcpMux { get; init; }

    /// <summary>
    /// WebRTC media (<c>webrtc</c>): as in Asterisk, it turns on use_avpf, rtcp_mux and ice_support and
    /// makes DTLS-SRTP the media encryption, whatever those options say (see <see cref="EffectiveMedia"/>).
    /// </summary>
    public bool Webrtc { get; init; }

    /// <summary>The media options in force once <see cref="Webrtc"/> has applied its own.</summary>
    public (bool UseAvpf, bool RtcpMux, bool IceSupport, MediaEncryption Encryption) EffectiveMedia =>
        Webrtc ? (true, true, true, MediaEncryption.Dtls) : (UseAvpf, RtcpMux, IceSupport, MediaEncryption);

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    internal static readonly (string, IdentifyMethod)[] IdentifyMethods =
    [
        ("username", IdentifyMethod.Username), ("auth_username", IdentifyMethod.AuthUsername), ("ip", IdentifyMethod.Ip),
        ("header", IdentifyMethod.Header), ("request_uri", IdentifyMethod.RequestUri),
    ];

    private static readonly (string, DtmfMode)[] DtmfModes =
    [
        ("rfc4733", DtmfMode.Rfc4733), ("inband", DtmfMode.Inband), ("info", DtmfMode.Info), ("auto", DtmfMode.Auto),
        ("auto_info", DtmfMode.AutoInfo), ("none", DtmfMode.None),
    ];

    private static readonly (string, Rel100Mode)[] Rel100Modes =
    [
        ("no", Rel100Mode.No), ("yes", Rel100Mode.Yes), ("peer_supported", Rel100Mode.PeerSupported), ("required", Rel100Mode.Required),
    ];

    private static readonly (string, SessionTimersMode)[] TimerModes =
    [
        ("no", SessionTimersMode.No), ("yes", SessionTimersMode.Yes), ("required", SessionTimersMode.Required),
        ("always", SessionTimersMode.Always), ("forced", SessionTimersMode.Always),
    ];

    private static readonly (string, MediaEncryption)[] Encryptions =
    [
        ("no", MediaEncryption.No), ("sdes", MediaEncryption.Sdes), ("dtls", MediaEncryption.Dtls),
    ];

    private static Rel100Mode ParseRel100(string value)
    {
        if (OptionValues.IsTrue(value))
            return Rel100Mode.Yes;
        if (OptionValues.IsFalse(value))
            return Rel100Mode.No;
        return OptionValues.ParseEnum(value, Rel100Modes);
    }

    private static SessionTimersMode ParseTimers(string value)
    {
        if (OptionValues.IsTrue(value))
            return SessionTimersMode.Yes;
        if (OptionValues.IsFalse(value))
            return SessionTimersMode.No;
        return OptionValues.ParseEnum(value, TimerModes);
    }

    private static CallerId ParseCallerId(string value)
    {
        try
        {
            return CallerId.Parse(value);
        }
        catch (FormatException error)
        {
            throw new OptionValueException($"invalid value '{value}': {error.Message} (expected \"Name\" <number>)");
        }
    }

    private static string ParseFromUser(string value)
    {
        var trimmed = value.Trim();
        foreach (var c in trimmed)
        {
            if (char.IsWhiteSpace(c) || c is '@' or ':' or '<' or '>' or '"' or ';')
                throw new OptionValueException($"invalid value '{value}': character '{c}' is not allowed in a user part");
        }
        return trimmed;
    }

    private static readonly string[] UnsupportedOptions = [
        "aggregate_mwi", "codec_prefs_incoming_offer", "codec_prefs_outgoing_offer", "codec_prefs_incoming_answer", "codec_prefs_outgoing_answer", "allow_overlap",
        "overlap_context", "callerid_privacy", "callerid_tag", "direct_media_glare_mitigation", "direct_media_method", "trust_connected_line",
        "send_connected_line", "connected_line_method", "disable_direct_media_on_nat", "media_address", "bind_rtp_to_media_address", "redirect_method",
        "follow_redirect_methods", "mailboxes", "mwi_subscribe_replaces_unsolicited", "voicemail_extension", "moh_suggest", "rtp_ipv6",
        "send_diversion", "send_history_info", "rpid_immediate", "tenantid", "use_ptime",
        "force_avp", "media_use_received_transport", "media_encryption_optimistic", "g726_non_standard", "inband_progress", "call_group",
        "pickup_group", "named_call_group", "named_pickup_group", "device_state_busy_at", "t38_udptl", "t38_udptl_ec",
        "t38_udptl_maxdatagram", "fax_detect", "fax_detect_timeout", "t38_udptl_nat", "t38_udptl_ipv6", "t38_bind_udptl_to_media_address",
        "tone_zone", "language", "one_touch_recording", "record_on_feature", "record_off_feature", "rtp_engine",
        "allow_transfer", "user_eq_phone", "moh_passthrough", "sdp_owner", "sdp_session", "tos_audio",
        "tos_video", "cos_audio", "cos_video", "sub_min_expiry", "mwi_from_user", "dtls_verify",
        "dtls_rekey", "dtls_auto_generate_cert", "dtls_cert_file", "dtls_private_key", "dtls_cipher", "dtls_ca_file",
        "dtls_ca_path", "dtls_setup", "dtls_fingerprint", "srtp_tag_32", "set_var", "message_context",
        "accountcode", "preferred_codec_only", "incoming_call_offer_pref", "outgoing_call_offer_pref", "rtp_keepalive", "rtp_timeout",
        "rtp_timeout_hold", "rtp_port_start", "rtp_port_end", "contact_acl", "contact_deny", "contact_permit",
        "subscribe_context", "contact_user", "asymmetric_rtp_codec", "refer_blind_progress", "notify_early_inuse_ringing",
        "max_audio_streams", "max_video_streams", "bundle", "incoming_mwi_mailbox", "follow_early_media_fork",
        "accept_multiple_sdp_answers", "suppress_q850_reason_headers", "ignore_183_without_sdp", "stir_shaken", "stir_shaken_profile", "allow_unauthenticated_options",
        "security_negotiation", "security_mechanisms", "geoloc_incoming_call_profile", "geoloc_outgoing_call_profile", "send_aoc", "suppress_moh_on_sendonly",
    ];

    /// <summary>The <c>endpoint</c> type.</summary>
    public static ObjectType<Endpoint> Type { get; } = new(
        "endpoint",
        isDynamic: false,
        id => new Endpoint(id),
        o =>
        {
            o.Text("transport", e => e.Transport, (e, v) => e with { Transport = v });
            o.NameList("aors", e => e.Aors, (e, v) => e with { Aors = v });
            o.NameList("auth", e => e.Auth, (e, v) => e with { Auth = v });
            o.NameList("outbound_auth", e => e.OutboundAuth, (e, v) => e with { OutboundAuth = v });
            o.Text("context", e => e.Context, (e, v) => e with { Context = v });
            o.Custom("disallow", (e, v) => e with { Allow = Codecs.Disallow(e.Allow, v) }, _ => null, repeatable: true);
            o.Custom("allow", (e, v) => e with { Allow = Codecs.Allow(e.Allow, v) }, e => e.Allow.ToString(), repeatable: true);
            o.Bool("direct_media", e => e.DirectMedia, (e, v) => e with { DirectMedia = v });
            o.EnumList("identify_by", IdentifyMethods, e => e.IdentifyBy, (e, v) => e with { IdentifyBy = v });
            o.Custom("callerid", (e, v) => e with { CallerId = ParseCallerId(v) }, e => e.CallerId.ToString());
            o.Custom("from_user", (e, v) => e with { FromUser = ParseFromUser(v) }, e => e.FromUser);
            o.Text("from_domain", e => e.FromDomain, (e, v) => e with { FromDomain = v });
            o.Enum("dtmf_mode", DtmfModes, e => e.DtmfMode, (e, v) => e with { DtmfMode = v });
            o.Bool("rtp_symmetric", e => e.RtpSymmetric, (e, v) => e with { RtpSymmetric = v });
            o.Bool("force_rport", e => e.ForceRport, (e, v) => e with { ForceRport = v });
            o.Bool("rewrite_contact", e => e.RewriteContact, (e, v) => e with { RewriteContact = v });
            o.Custom("100rel", (e, v) => e with { Rel100 = ParseRel100(v) }, e => OptionValues.FormatEnum(e.Rel100, Rel100Modes));
            o.Custom("timers", (e, v) => e with { Timers = ParseTimers(v) }, e => OptionValues.FormatEnum(e.Timers, TimerModes));
            o.UInt("timers_min_se", e => e.TimersMinSe, (e, v) => e with { TimersMinSe = v }, min: 90);
            o.UInt("timers_sess_expires", e => e.TimersSessExpires, (e, v) => e with { TimersSessExpires = v }, min: 90);
            o.Enum("media_encryption", Encryptions, e => e.MediaEncryption, (e, v) => e with { MediaEncryption = v });
            o.Bool("send_pai", e => e.SendPai, (e, v) => e with { SendPai = v });
            o.Bool("send_rpid", e => e.SendRpid, (e, v) => e with { SendRpid = v });
            o.Bool("trust_id_inbound", e => e.TrustIdInbound, (e, v) => e with { TrustIdInbound = v });
            o.Bool("trust_id_outbound", e => e.TrustIdOutbound, (e, v) => e with { TrustIdOutbound = v });
            o.Bool("allow_subscribe", e => e.AllowSubscribe, (e, v) => e with { AllowSubscribe = v });
            o.NameList("acl", e => e.Acl, (e, v) => e with { Acl = v });
            o.AclRules("permit", "deny", e => e.AclRules, (e, v) => e with { AclRules = v });
            o.Text("outbound_proxy", e => e.OutboundProxy, (e, v) => e with { OutboundProxy = v });
            o.Bool("ice_support", e => e.IceSupport, (e, v) => e with { IceSupport = v });
            o.Bool("use_avpf", e => e.UseAvpf, (e, v) => e with { UseAvpf = v });
            o.Bool("rtcp_mux", e => e.RtcpMux, (e, v) => e with { RtcpMux = v });
            o.Bool("webrtc", e => e.Webrtc, (e, v) => e with { Webrtc = v });
        },
        validate: null,
        unsupported: UnsupportedOptions);
}
