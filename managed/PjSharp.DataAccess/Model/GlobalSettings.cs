namespace PjSharp.DataAccess;

/// <summary>Server-wide settings (<c>type=global</c>); a configuration holds at most one.</summary>
public sealed record GlobalSettings(string Id) : SipObject(Id), ISipObject<GlobalSettings>
{
    /// <summary>The names <c>endpoint_identifier_order</c> accepts.</summary>
    public static IReadOnlyList<string> EndpointIdentifiers { get; } = ["ip", "username", "anonymous", "header", "auth_username", "request_uri"];

    /// <summary>User-Agent and Server header value (<c>user_agent</c>). Asterisk's default names Asterisk; ours names PjSharp.</summary>
    public string UserAgent { get; init; } = "PjSharp";

    /// <summary>Realm of challenges when an auth has none (<c>default_realm</c>).</summary>
    public string DefaultRealm { get; init; } = "asterisk";

    /// <summary>Order in which endpoint identifiers run (<c>endpoint_identifier_order</c>).</summary>
    public ValueList<string> EndpointIdentifierOrder { get; init; } = ["ip", "username", "anonymous"];

    /// <summary>Max-Forwards of requests we send (<c>max_forwards</c>).</summary>
    public uint MaxForwards { get; init; } = 70;

    /// <summary>Seconds between CRLF keep-alives on connection transports (<c>keep_alive_interval</c>); 0 disables.</summary>
    public uint KeepAliveInterval { get; init; } = 90;

    /// <summary>Seconds between checks for expired contacts (<c>contact_expiration_check_interval</c>).</summary>
    public uint ContactExpirationCheckInterval { get; init; } = 30;

    /// <summary>Endpoint for requests sent without one (<c>default_outbound_endpoint</c>).</summary>
    public string DefaultOutboundEndpoint { get; init; } = "default_outbound_endpoint";

    /// <summary>From user of requests without an endpoint from_user (<c>default_from_user</c>).</summary>
    public string DefaultFromUser { get; init; } = "asterisk";

    /// <summary>Log SIP messages (<c>debug</c>).</summary>
    public bool Debug { get; init; }

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    private static ValueList<string> ParseIdentifierOrder(string value)
    {
        var names = new List<string>();
        foreach (var item in OptionValues.SplitList(value))
        {
            var name = item.ToLowerInvariant();
            if (!EndpointIdentifiers.Contains(name))
                throw new OptionValueException($"unknown endpoint identifier '{item}': expected {string.Join(", ", EndpointIdentifiers)}");
            if (!names.Contains(name))
                names.Add(name);
        }
        return ValueList.From(names);
    }

    private static readonly string[] UnsupportedOptions = [
        "disable_multi_domain", "max_initial_qualify_time", "unidentified_request_period", "unidentified_request_count", "unidentified_request_prune_interval", "regcontext",
        "default_voicemail_extension", "mwi_tps_queue_high", "mwi_tps_queue_low", "mwi_disable_initial_unsolicited", "ignore_uri_user_options", "use_callerid_contact",
        "send_contact_status_on_update_registration", "taskprocessor_overload_trigger", "norefersub", "allow_sending_180_after_183", "all_codecs_on_empty_reinvite", "default_auth_algorithms_uas",
        "default_auth_algorithms_uac",
    ];

    /// <summary>The <c>global</c> type.</summary>
    public static ObjectType<GlobalSettings> Type { get; } = new(
        "global",
        isDynamic: false,
        id => new GlobalSettings(id),
        o =>
        {
            o.Text("user_agent", g => g.UserAgent, (g, v) => g with { UserAgent = v });
            o.Text("default_realm", g => g.DefaultRealm, (g, v) => g with { DefaultRealm = v });
            o.Custom("endpoint_identifier_order", (g, v) => g with { EndpointIdentifierOrder = ParseIdentifierOrder(v) }, g => g.EndpointIdentifierOrder.ToString());
            o.UInt("max_forwards", g => g.MaxForwards, (g, v) => g with { MaxForwards = v }, min: 1, max: 255);
            o.UInt("keep_alive_interval", g => g.KeepAliveInterval, (g, v) => g with { KeepAliveInterval = v });
            o.UInt("contact_expiration_check_interval", g => g.ContactExpirationCheckInterval, (g, v) => g with { ContactExpirationCheckInterval = v });
            o.Text("default_outbound_endpoint", g => g.DefaultOutboundEndpoint, (g, v) => g with { DefaultOutboundEndpoint = v });
            o.Text("default_from_user", g => g.DefaultFromUser, (g, v) => g with { DefaultFromUser = v });
            o.Bool("debug", g => g.Debug, (g, v) => g with { Debug = v });
        },
        validate: null,
        UnsupportedOptions);
}
