using System.Net;

namespace PjSharp.DataAccess;

/// <summary>A listening transport (<c>type=transport</c>).</summary>
public sealed record Transport(string Id) : SipObject(Id), ISipObject<Transport>
{
    /// <summary>Protocol (<c>protocol</c>).</summary>
    public TransportProtocol Protocol { get; init; } = TransportProtocol.Udp;

    /// <summary>Address and port to listen on (<c>bind</c>); port 0 means the protocol's default.</summary>
    public IPEndPoint? Bind { get; init; }

    /// <summary>Address to put in signaling when behind NAT (<c>external_signaling_address</c>).</summary>
    public string ExternalSignalingAddress { get; init; } = "";

    /// <summary>Port to put in signaling when behind NAT (<c>external_signaling_port</c>); 0 for the bound port.</summary>
    public uint ExternalSignalingPort { get; init; }

    /// <summary>Address to put in SDP when behind NAT (<c>external_media_address</c>).</summary>
    public string ExternalMediaAddress { get; init; } = "";

    /// <summary>Networks that are local, so not rewritten to the external addresses (<c>local_net</c>).</summary>
    public ValueList<IPNetwork> LocalNet { get; init; }

    /// <summary>PEM certificate (<c>cert_file</c>).</summary>
    public string CertFile { get; init; } = "";

    /// <summary>PEM private key (<c>priv_key_file</c>).</summary>
    public string PrivKeyFile { get; init; } = "";

    /// <summary>Password of the private key (<c>password</c>).</summary>
    public string Password { get; init; } = "";

    /// <summary>PEM CA list (<c>ca_list_file</c>).</summary>
    public string CaListFile { get; init; } = "";

    /// <summary>Directory of CA certificates (<c>ca_list_path</c>).</summary>
    public string CaListPath { get; init; } = "";

    /// <summary>Verify clients' certificates (<c>verify_client</c>).</summary>
    public bool VerifyClient { get; init; }

    /// <summary>Verify servers' certificates (<c>verify_server</c>).</summary>
    public bool VerifyServer { get; init; }

    /// <summary>Refuse clients without a certificate (<c>require_client_cert</c>).</summary>
    public bool RequireClientCert { get; init; }

    /// <summary>TLS method (<c>method</c>).</summary>
    public TlsMethod Method { get; init; } = TlsMethod.Default;

    /// <summary>OpenSSL cipher names (<c>cipher</c>).</summary>
    public ValueList<string> Cipher { get; init; }

    /// <summary>Whether a reload may restart this transport (<c>allow_reload</c>).</summary>
    public bool AllowReload { get; init; }

    /// <summary>Answer over the transport a request came in on (<c>symmetric_transport</c>).</summary>
    public bool SymmetricTransport { get; init; }

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    /// <summary>Never prints the key password.</summary>
    public override string ToString() => $"Transport {{ Id = {Id}, Protocol = {Protocol}, Bind = {Bind} }}";

    private static readonly (string, TransportProtocol)[] Protocols =
    [
        ("udp", TransportProtocol.Udp), ("tcp", TransportProtocol.Tcp), ("tls", TransportProtocol.Tls),
        ("ws", TransportProtocol.WS), ("wss", TransportProtocol.Wss),
    ];

    private static readonly (string, TlsMethod)[] Methods =
    [
        ("default", TlsMethod.Default), ("unspecified", TlsMethod.Unspecified), ("tlsv1", TlsMethod.Tls1),
        ("tlsv1_1", TlsMethod.Tls11), ("tlsv1_2", TlsMethod.Tls12), ("tlsv1_3", TlsMethod.Tls13),
        ("sslv2", TlsMethod.Ssl2), ("sslv3", TlsMethod.Ssl3), ("sslv23", TlsMethod.Ssl23),
    ];

    private static IPEndPoint? ParseBind(string value)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
            return null;
        if (!IPEndPoint.TryParse(trimmed, out var endPoint))
            throw new OptionValueException($"invalid value '{value}': expected an IP address with an optional port (0.0.0.0:5060, [::]:5061)");
        return endPoint;
    }

    private static IPNetwork ParseNetwork(string value) =>
        NetworkText.TryParseNetwork(value, out var network)
            ? network
            : throw new OptionValueException($"invalid value '{value}': expected a network (192.168.0.0/16)");

    private static IEnumerable<(string, string)> Validate(Transport transport)
    {
        if (transport.Bind is null && transport.Protocol is not (TransportProtocol.WS or TransportProtocol.Wss))
            yield return ("bind", "required for udp, tcp and tls transports");
        if (transport.PrivKeyFile.Length > 0 && transport.CertFile.Length == 0)
            yield return ("cert_file", "required when priv_key_file is set");
    }

    private static readonly string[] UnsupportedOptions = [
        "async_operations", "domain", "external_signaling_hostname", "tcp_keepalive_enable", "tcp_keepalive_idle_time", "tcp_keepalive_interval_time",
        "tcp_keepalive_probe_count", "tos", "cos", "websocket_write_timeout", "allow_wildcard_certs",
    ];

    /// <summary>The <c>transport</c> type.</summary>
    public static ObjectType<Transport> Type { get; } = new(
        "transport",
        isDynamic: false,
        id => new Transport(id),
        o =>
        {
            o.Enum("protocol", Protocols, t => t.Protocol, (t, v) => t with { Protocol = v });
            o.Custom("bind", (t, v) => t with { Bind = ParseBind(v) }, t => t.Bind is null ? "" : NetworkText.FormatEndPoint(t.Bind));
            o.Text("external_signaling_address", t => t.ExternalSignalingAddress, (t, v) => t with { ExternalSignalingAddress = v });
            o.UInt("external_signaling_port", t => t.ExternalSignalingPort, (t, v) => t with { ExternalSignalingPort = v }, max: 65535);
            o.Text("external_media_address", t => t.ExternalMediaAddress, (t, v) => t with { ExternalMediaAddress = v });
            o.AppendList("local_net", t => t.LocalNet, (t, v) => t with { LocalNet = v }, ParseNetwork, n => n.ToString());
            o.Text("cert_file", t => t.CertFile, (t, v) => t with { CertFile = v });
            o.Text("priv_key_file", t => t.PrivKeyFile, (t, v) => t with { PrivKeyFile = v });
            o.Custom("password", (t, v) => t with { Password = v }, t => t.Password);
            o.Text("ca_list_file", t => t.CaListFile, (t, v) => t with { CaListFile = v });
            o.Text("ca_list_path", t => t.CaListPath, (t, v) => t with { CaListPath = v });
            o.Bool("verify_client", t => t.VerifyClient, (t, v) => t with { VerifyClient = v });
            o.Bool("verify_server", t => t.VerifyServer, (t, v) => t with { VerifyServer = v });
            o.Bool("require_client_cert", t => t.RequireClientCert, (t, v) => t with { RequireClientCert = v });
            o.Custom("method", (t, v) => t with { Method = v.Trim().Length == 0 ? TlsMethod.Default : OptionValues.ParseEnum(v, Methods) }, t => OptionValues.FormatEnum(t.Method, Methods));
            o.Custom("cipher", (t, v) => t with { Cipher = OptionValues.ParseNameList(v) }, t => t.Cipher.ToString());
            o.Bool("allow_reload", t => t.AllowReload, (t, v) => t with { AllowReload = v });
            o.Bool("symmetric_transport", t => t.SymmetricTransport, (t, v) => t with { SymmetricTransport = v });
        },
        Validate,
        UnsupportedOptions);
}
