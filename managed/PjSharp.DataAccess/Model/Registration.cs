namespace PjSharp.DataAccess;

/// <summary>An outbound registration to a registrar (<c>type=registration</c>).</summary>
public sealed record Registration(string Id) : SipObject(Id), ISipObject<Registration>
{
    /// <summary>The registrar's URI (<c>server_uri</c>); required.</summary>
    public string ServerUri { get; init; } = "";

    /// <summary>The address of record registered (<c>client_uri</c>); required.</summary>
    public string ClientUri { get; init; } = "";

    /// <summary>User part of the Contact sent (<c>contact_user</c>).</summary>
    public string ContactUser { get; init; } = "";

    /// <summary>Transport used (<c>transport</c>).</summary>
    public string Transport { get; init; } = "";

    /// <summary>Auth objects answering the registrar's challenges (<c>outbound_auth</c>).</summary>
    public ValueList<string> OutboundAuth { get; init; }

    /// <summary>Proxy for the REGISTER (<c>outbound_proxy</c>).</summary>
    public string OutboundProxy { get; init; } = "";

    /// <summary>Registration time asked for, seconds (<c>expiration</c>).</summary>
    public uint Expiration { get; init; } = 3600;

    /// <summary>Longest random delay before the first REGISTER, seconds (<c>max_random_initial_delay</c>).</summary>
    public uint MaxRandomInitialDelay { get; init; } = 10;

    /// <summary>Seconds before retrying after a failure (<c>retry_interval</c>).</summary>
    public uint RetryInterval { get; init; } = 60;

    /// <summary>Seconds before retrying after 403 (<c>forbidden_retry_interval</c>); 0 stops.</summary>
    public uint ForbiddenRetryInterval { get; init; }

    /// <summary>Seconds before retrying after a fatal answer (<c>fatal_retry_interval</c>); 0 stops.</summary>
    public uint FatalRetryInterval { get; init; }

    /// <summary>Most retries (<c>max_retries</c>).</summary>
    public uint MaxRetries { get; init; } = 10;

    /// <summary>Stop after a rejected authentication (<c>auth_rejection_permanent</c>).</summary>
    public bool AuthRejectionPermanent { get; init; } = true;

    /// <summary>Advertise Path support (<c>support_path</c>).</summary>
    public bool SupportPath { get; init; }

    /// <summary>Add a line parameter so inbound requests find <see cref="Endpoint"/> (<c>line</c>).</summary>
    public bool Line { get; init; }

    /// <summary>Endpoint for inbound requests with the line parameter (<c>endpoint</c>).</summary>
    public string Endpoint { get; init; } = "";

    /// <summary>User-Agent for the REGISTER (<c>user_agent</c>).</summary>
    public string UserAgent { get; init; } = "";

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    private static IEnumerable<(string, string)> Validate(Registration registration)
    {
        if (registration.ServerUri.Length == 0)
            yield return ("server_uri", "required");
        if (registration.ClientUri.Length == 0)
            yield return ("client_uri", "required");
        if (registration.Line && registration.Endpoint.Length == 0)
            yield return ("endpoint", "required when line=yes");
    }

    private static readonly string[] UnsupportedOptions = [
        "contact_header_params", "security_negotiation", "security_mechanisms", "support_outbound",
    ];

    /// <summary>The <c>registration</c> type.</summary>
    public static ObjectType<Registration> Type { get; } = new(
        "registration",
        isDynamic: false,
        id => new Registration(id),
        o =>
        {
            o.Custom("server_uri", (r, v) => r with { ServerUri = v.Trim().Length == 0 ? "" : OptionValues.ParseSipUri(v) }, r => r.ServerUri);
            o.Custom("client_uri", (r, v) => r with { ClientUri = v.Trim().Length == 0 ? "" : OptionValues.ParseSipUri(v) }, r => r.ClientUri);
            o.Text("contact_user", r => r.ContactUser, (r, v) => r with { ContactUser = v });
            o.Text("transport", r => r.Transport, (r, v) => r with { Transport = v });
            o.NameList("outbound_auth", r => r.OutboundAuth, (r, v) => r with { OutboundAuth = v });
            o.Text("outbound_proxy", r => r.OutboundProxy, (r, v) => r with { OutboundProxy = v });
            o.UInt("expiration", r => r.Expiration, (r, v) => r with { Expiration = v });
            o.UInt("max_random_initial_delay", r => r.MaxRandomInitialDelay, (r, v) => r with { MaxRandomInitialDelay = v });
            o.UInt("retry_interval", r => r.RetryInterval, (r, v) => r with { RetryInterval = v });
            o.UInt("forbidden_retry_interval", r => r.ForbiddenRetryInterval, (r, v) => r with { ForbiddenRetryInterval = v });
            o.UInt("fatal_retry_interval", r => r.FatalRetryInterval, (r, v) => r with { FatalRetryInterval = v });
            o.UInt("max_retries", r => r.MaxRetries, (r, v) => r with { MaxRetries = v });
            o.Bool("auth_rejection_permanent", r => r.AuthRejectionPermanent, (r, v) => r with { AuthRejectionPermanent = v });
            o.Bool("support_path", r => r.SupportPath, (r, v) => r with { SupportPath = v });
            o.Bool("line", r => r.Line, (r, v) => r with { Line = v });
            o.Text("endpoint", r => r.Endpoint, (r, v) => r with { Endpoint = v });
            o.Text("user_agent", r => r.UserAgent, (r, v) => r with { UserAgent = v });
        },
        Validate,
        UnsupportedOptions);
}
