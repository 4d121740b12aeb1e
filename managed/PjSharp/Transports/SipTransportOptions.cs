using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace PjSharp.Transports;

public enum SipTransportProtocol
{
    Udp,
    Tcp,
    Tls,

    /// <summary>SIP over WebSocket (RFC 7118), served by a managed HTTP listener.</summary>
    Ws,

    /// <summary>SIP over secure WebSocket.</summary>
    Wss,
}

/// <summary>TLS files and verification for a TLS transport.</summary>
public sealed class SipTlsOptions
{
    /// <summary>PEM certificate (chain) presented by this endpoint.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>PEM private key of <see cref="CertificateFile"/>.</summary>
    public string? PrivateKeyFile { get; set; }

    /// <summary>Password of the private key, if it is encrypted.</summary>
    public string? PrivateKeyPassword { get; set; }

    /// <summary>PEM file of trusted CAs for verifying peers.</summary>
    public string? CaListFile { get; set; }

    /// <summary>Reject clients whose certificate does not verify against <see cref="CaListFile"/>.</summary>
    public bool VerifyClient { get; set; }

    /// <summary>Reject servers whose certificate does not verify (outgoing connections).</summary>
    public bool VerifyServer { get; set; }

    /// <summary>Require clients to present a certificate.</summary>
    public bool RequireClientCertificate { get; set; }
}

/// <summary>One listening transport: protocol and bind address (port 0 picks a free port).</summary>
public sealed record SipTransportOptions(SipTransportProtocol Protocol, IPEndPoint Bind)
{
    public SipTlsOptions? Tls { get; init; }

    /// <summary>
    /// Parses <c>udp:127.0.0.1:5060</c>, <c>tcp:[::1]:5060</c>, <c>tls:0.0.0.0:5061</c>, <c>ws:127.0.0.1:8088</c>, <c>wss:0.0.0.0:8089</c>.
    /// </summary>
    public static SipTransportOptions Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
            throw new FormatException($"Transport '{text}' is not of the form <udp|tcp|tls|ws|wss>:<address>:<port>.");
        var protocol = text[..colon].ToLowerInvariant() switch
        {
            "udp" => SipTransportProtocol.Udp,
            "tcp" => SipTransportProtocol.Tcp,
            "tls" => SipTransportProtocol.Tls,
            "ws" => SipTransportProtocol.Ws,
            "wss" => SipTransportProtocol.Wss,
            var other => throw new FormatException($"Transport '{text}': unknown protocol '{other}' (use udp, tcp, tls, ws or wss)."),
        };
        if (!IPEndPoint.TryParse(text[(colon + 1)..], out var endPoint) || text.AsSpan(colon + 1).IndexOf(':') < 0)
            throw new FormatException($"Transport '{text}': '{text[(colon + 1)..]}' is not an address and port such as 127.0.0.1:5060 or [::1]:5060.");
        return new SipTransportOptions(protocol, endPoint);
    }

    /// <summary>Whether pjsip's own transports serve it (UDP, TCP, TLS) rather than the WebSocket listener.</summary>
    public bool IsWebSocket => Protocol is SipTransportProtocol.Ws or SipTransportProtocol.Wss;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Protocol.ToString().ToLowerInvariant()}:{(Bind.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Bind.Address}]" : Bind.Address.ToString())}:{Bind.Port}");
}

/// <summary>A transport the endpoint listens on, with the port actually bound.</summary>
public sealed record SipTransportInfo(SipTransportProtocol Protocol, IPEndPoint LocalEndPoint)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Protocol.ToString().ToLowerInvariant()} {(LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{LocalEndPoint.Address}]" : LocalEndPoint.Address.ToString())}:{LocalEndPoint.Port}");
}
