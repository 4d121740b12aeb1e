namespace PjSharp.DataAccess;

/// <summary>An address of record (<c>type=aor</c>): where an endpoint can be reached, and the registrar's limits.</summary>
public sealed record Aor(string Id) : SipObject(Id), ISipObject<Aor>
{
    /// <summary>Most contacts that may be bound at once (<c>max_contacts</c>); 0 forbids registration.</summary>
    public uint MaxContacts { get; init; }

    /// <summary>Replace the oldest contact when full (<c>remove_existing</c>).</summary>
    public bool RemoveExisting { get; init; }

    /// <summary>Replace unavailable contacts first when full (<c>remove_unavailable</c>).</summary>
    public bool RemoveUnavailable { get; init; }

    /// <summary>Shortest registration accepted, seconds (<c>minimum_expiration</c>).</summary>
    public uint MinimumExpiration { get; init; } = 60;

    /// <summary>Registration time when none is asked for, seconds (<c>default_expiration</c>).</summary>
    public uint DefaultExpiration { get; init; } = 3600;

    /// <summary>Longest registration granted, seconds (<c>maximum_expiration</c>).</summary>
    public uint MaximumExpiration { get; init; } = 7200;

    /// <summary>Seconds between OPTIONS qualify requests (<c>qualify_frequency</c>); 0 disables.</summary>
    public uint QualifyFrequency { get; init; }

    /// <summary>Seconds to wait for a qualify answer (<c>qualify_timeout</c>).</summary>
    public double QualifyTimeout { get; init; } = 3.0;

    /// <summary>Authenticate qualify requests (<c>authenticate_qualify</c>).</summary>
    public bool AuthenticateQualify { get; init; }

    /// <summary>Static contact URIs (<c>contact</c>).</summary>
    public ValueList<string> Contacts { get; init; }

    /// <summary>Proxy for requests to its contacts (<c>outbound_proxy</c>).</summary>
    public string OutboundProxy { get; init; } = "";

    /// <summary>Keep the Path of registrations, RFC 3327 (<c>support_path</c>).</summary>
    public bool SupportPath { get; init; }

    /// <summary>Mailboxes for MWI (<c>mailboxes</c>).</summary>
    public ValueList<string> Mailboxes { get; init; }

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    private static readonly string[] UnsupportedOptions = [
        "voicemail_extension", "qualify_2xx_only",
    ];

    /// <summary>The <c>aor</c> type.</summary>
    public static ObjectType<Aor> Type { get; } = new(
        "aor",
        isDynamic: false,
        id => new Aor(id),
        o =>
        {
            o.UInt("max_contacts", a => a.MaxContacts, (a, v) => a with { MaxContacts = v });
            o.Bool("remove_existing", a => a.RemoveExisting, (a, v) => a with { RemoveExisting = v });
            o.Bool("remove_unavailable", a => a.RemoveUnavailable, (a, v) => a with { RemoveUnavailable = v });
            o.UInt("minimum_expiration", a => a.MinimumExpiration, (a, v) => a with { MinimumExpiration = v });
            o.UInt("default_expiration", a => a.DefaultExpiration, (a, v) => a with { DefaultExpiration = v });
            o.UInt("maximum_expiration", a => a.MaximumExpiration, (a, v) => a with { MaximumExpiration = v });
            o.UInt("qualify_frequency", a => a.QualifyFrequency, (a, v) => a with { QualifyFrequency = v }, max: 86400);
            o.Double("qualify_timeout", a => a.QualifyTimeout, (a, v) => a with { QualifyTimeout = v });
            o.Bool("authenticate_qualify", a => a.AuthenticateQualify, (a, v) => a with { AuthenticateQualify = v });
            o.AppendList("contact", a => a.Contacts, (a, v) => a with { Contacts = v }, OptionValues.ParseSipUri, s => s);
            o.Text("outbound_proxy", a => a.OutboundProxy, (a, v) => a with { OutboundProxy = v });
            o.Bool("support_path", a => a.SupportPath, (a, v) => a with { SupportPath = v });
            o.NameList("mailboxes", a => a.Mailboxes, (a, v) => a with { Mailboxes = v });
        },
        validate: null,
        UnsupportedOptions);
}
