using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PjSharp.DataAccess;

/// <summary>
/// A binding made by REGISTER (<c>type=contact</c>): dynamic state, written by the registrar, never read from config files.
/// Its id is <c>aor;@hash</c> (see <see cref="CreateId"/>), so the contacts of an AOR are a prefix query.
/// </summary>
public sealed record Contact(string Id) : SipObject(Id), ISipObject<Contact>
{
    /// <summary>The contact URI (<c>uri</c>).</summary>
    public string Uri { get; init; } = "";

    /// <summary>When the binding expires (<c>expiration_time</c>, Unix seconds).</summary>
    public DateTimeOffset ExpirationTime { get; init; } = DateTimeOffset.UnixEpoch;

    /// <summary>Path header values of the registration (<c>path</c>).</summary>
    public string Path { get; init; } = "";

    /// <summary>User-Agent of the registration (<c>user_agent</c>).</summary>
    public string UserAgent { get; init; } = "";

    /// <summary>Address of the top Via of the registration (<c>via_addr</c>).</summary>
    public string ViaAddress { get; init; } = "";

    /// <summary>Port of the top Via of the registration (<c>via_port</c>).</summary>
    public uint ViaPort { get; init; }

    /// <summary>Call-ID of the registration (<c>call_id</c>).</summary>
    public string CallId { get; init; } = "";

    /// <summary>
    /// CSeq of the REGISTER that made or last refreshed the binding (<c>cseq</c>; PjSharp's own option, not Asterisk's):
    /// with <see cref="CallId"/> it lets the registrar ignore a reordered older request (RFC 3261 §10.3 step 7).
    /// </summary>
    public uint CSeq { get; init; }

    /// <summary>The node that accepted the registration (<c>reg_server</c>).</summary>
    public string RegistrationServer { get; init; } = "";

    /// <summary>The endpoint that registered (<c>endpoint</c>).</summary>
    public string Endpoint { get; init; } = "";

    /// <summary>The AOR the contact is bound to (<c>aor</c>).</summary>
    public string Aor { get; init; } = "";

    /// <summary>Seconds between qualify requests (<c>qualify_frequency</c>).</summary>
    public uint QualifyFrequency { get; init; }

    /// <summary>Seconds to wait for a qualify answer (<c>qualify_timeout</c>).</summary>
    public double QualifyTimeout { get; init; } = 3.0;

    /// <summary>Authenticate qualify requests (<c>authenticate_qualify</c>).</summary>
    public bool AuthenticateQualify { get; init; }

    /// <summary>Proxy for requests to it (<c>outbound_proxy</c>).</summary>
    public string OutboundProxy { get; init; } = "";

    /// <summary>Remove the contact when the server restarts (<c>prune_on_boot</c>).</summary>
    public bool PruneOnBoot { get; init; }

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    /// <summary>The id for a contact of <paramref name="aor"/> with <paramref name="uri"/>: <c>aor;@</c> and a hash of the URI.</summary>
    public static string CreateId(string aor, string uri)
    {
        ArgumentException.ThrowIfNullOrEmpty(aor);
        ArgumentNullException.ThrowIfNull(uri);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(uri), hash);
        return aor + ";@" + Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>The id prefix shared by all contacts of <paramref name="aor"/>.</summary>
    public static string IdPrefix(string aor) => aor + ";@";

    private static readonly string[] UnsupportedOptions = [
        "qualify_2xx_only",
    ];

    /// <summary>The <c>contact</c> type.</summary>
    public static ObjectType<Contact> Type { get; } = new(
        "contact",
        isDynamic: true,
        id => new Contact(id),
        o =>
        {
            o.Custom("uri", (c, v) => c with { Uri = v.Trim().Length == 0 ? "" : OptionValues.ParseSipUri(v) }, c => c.Uri);
            o.Custom("expiration_time", (c, v) => c with { ExpirationTime = OptionValues.ParseUnixTime(v) }, c => c.ExpirationTime.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
            o.Text("path", c => c.Path, (c, v) => c with { Path = v });
            o.Text("user_agent", c => c.UserAgent, (c, v) => c with { UserAgent = v });
            o.Text("via_addr", c => c.ViaAddress, (c, v) => c with { ViaAddress = v });
            o.UInt("via_port", c => c.ViaPort, (c, v) => c with { ViaPort = v }, max: 65535);
            o.Text("call_id", c => c.CallId, (c, v) => c with { CallId = v });
            o.UInt("cseq", c => c.CSeq, (c, v) => c with { CSeq = v });
            o.Text("reg_server", c => c.RegistrationServer, (c, v) => c with { RegistrationServer = v });
            o.Text("endpoint", c => c.Endpoint, (c, v) => c with { Endpoint = v });
            o.Text("aor", c => c.Aor, (c, v) => c with { Aor = v });
            o.UInt("qualify_frequency", c => c.QualifyFrequency, (c, v) => c with { QualifyFrequency = v }, max: 86400);
            o.Double("qualify_timeout", c => c.QualifyTimeout, (c, v) => c with { QualifyTimeout = v });
            o.Bool("authenticate_qualify", c => c.AuthenticateQualify, (c, v) => c with { AuthenticateQualify = v });
            o.Text("outbound_proxy", c => c.OutboundProxy, (c, v) => c with { OutboundProxy = v });
            o.Bool("prune_on_boot", c => c.PruneOnBoot, (c, v) => c with { PruneOnBoot = v });
        },
        validate: null,
        UnsupportedOptions);
}
