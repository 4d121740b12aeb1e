using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PjSharp.Interop;

namespace PjSharp.Transports;

/// <summary>Starts pjsip's own UDP, TCP and TLS transports. Runs on a registered thread.</summary>
internal static unsafe class TransportStarter
{
    public static SipTransportInfo Start(pjsip_endpoint* endpoint, SipTransportOptions options, int asyncCount)
    {
        var text = options.Bind.AddressFamily == AddressFamily.InterNetworkV6
            ? $"[{options.Bind.Address}]:{options.Bind.Port.ToString(CultureInfo.InvariantCulture)}"
            : $"{options.Bind.Address}:{options.Bind.Port.ToString(CultureInfo.InvariantCulture)}";
        pj_sockaddr address;
        var textBytes = Encoding.ASCII.GetBytes(text);
        fixed (byte* textPointer = textBytes)
        {
            var pjText = PjStr.FromPointer(textPointer, textBytes.Length);
            // Family 0 (unspecified) lets pjlib take it from the text.
            ThrowHelper.ThrowIfFailed(PjSock.pj_sockaddr_parse(0, 0, &pjText, &address), $"parsing transport address {text}");
        }
        return options.Protocol switch
        {
            SipTransportProtocol.Udp => StartUdp(endpoint, options, &address, asyncCount),
            SipTransportProtocol.Tcp => StartTcp(endpoint, options, &address, asyncCount),
            SipTransportProtocol.Tls => StartTls(endpoint, options, &address, asyncCount),
            SipTransportProtocol.Ws or SipTransportProtocol.Wss => throw new NotSupportedException(
                $"Transport {options}: WebSocket transports are served by PjSharp.Hosting's WebSocket listener, one pjsip transport per connection (WebSocketSipTransport)."),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Protocol, "Unknown transport protocol."),
        };
    }

    private static SipTransportInfo StartUdp(pjsip_endpoint* endpoint, SipTransportOptions options, pj_sockaddr* address, int asyncCount)
    {
        pjsip_transport* transport;
        int status = options.Bind.AddressFamily == AddressFamily.InterNetworkV6
            ? PjsipSipTransportUdp.pjsip_udp_transport_start6(endpoint, &address->ipv6, null, (uint)asyncCount, &transport)
            : PjsipSipTransportUdp.pjsip_udp_transport_start(endpoint, &address->ipv4, null, (uint)asyncCount, &transport);
        ThrowHelper.ThrowIfFailed(status, $"starting UDP transport on {options}");
        return new SipTransportInfo(SipTransportProtocol.Udp, new IPEndPoint(options.Bind.Address, transport->local_name.port));
    }

    private static SipTransportInfo StartTcp(pjsip_endpoint* endpoint, SipTransportOptions options, pj_sockaddr* address, int asyncCount)
    {
        pjsip_tcp_transport_cfg config;
        PjsipSipTransportTcp.pjsip_tcp_transport_cfg_default(&config, address->addr.sa_family);
        config.bind_addr = *address;
        config.async_cnt = (uint)asyncCount;
        pjsip_tpfactory* factory;
        ThrowHelper.ThrowIfFailed(PjsipSipTransportTcp.pjsip_tcp_transport_start3(endpoint, &config, &factory),
            $"starting TCP transport on {options}");
        return new SipTransportInfo(SipTransportProtocol.Tcp, new IPEndPoint(options.Bind.Address, factory->addr_name.port));
    }

    private static SipTransportInfo StartTls(pjsip_endpoint* endpoint, SipTransportOptions options, pj_sockaddr* address, int asyncCount)
    {
        var tls = options.Tls ?? throw new ArgumentException($"TLS transport {options} needs TLS options (certificate and key).", nameof(options));
        pjsip_tls_setting setting;
        PjSharpNative.pjsharp_tls_setting_default(&setting);
        var strings = new List<pj_str_t>();
        try
        {
            setting.cert_file = Keep(strings, tls.CertificateFile);
            setting.privkey_file = Keep(strings, tls.PrivateKeyFile);
            setting.password = Keep(strings, tls.PrivateKeyPassword);
            setting.ca_list_file = Keep(strings, tls.CaListFile);
            setting.verify_client = tls.VerifyClient ? 1 : 0;
            setting.verify_server = tls.VerifyServer ? 1 : 0;
            setting.require_client_cert = tls.RequireClientCertificate ? 1 : 0;
            pjsip_tpfactory* factory;
            ThrowHelper.ThrowIfFailed(
                PjsipSipTransportTls.pjsip_tls_transport_start2(endpoint, &setting, address, null, (uint)asyncCount, &factory),
                $"starting TLS transport on {options}");
            return new SipTransportInfo(SipTransportProtocol.Tls, new IPEndPoint(options.Bind.Address, factory->addr_name.port));
        }
        finally
        {
            // pjsip copies the settings into the factory's pool.
            for (var i = 0; i < strings.Count; i++)
            {
                var value = strings[i];
                PjStr.FreeNative(ref value);
            }
        }
    }

    private static pj_str_t Keep(List<pj_str_t> strings, string? value)
    {
        if (string.IsNullOrEmpty(value))
            return default;
        var native = PjStr.AllocNative(value);
        strings.Add(native);
        return native;
    }
}
