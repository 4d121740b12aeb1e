using PjSharp.OutboundRegistration;
using PjSharp.Transports;

namespace PjSharp.Tests.OutboundRegistration;

public sealed class RegistrationTargetTests
{
    [TestCase("sip:registrar.example.com", SipTransportProtocol.Udp, "registrar.example.com", 5060)]
    [TestCase("sip:192.0.2.10:5080", SipTransportProtocol.Udp, "192.0.2.10", 5080)]
    [TestCase("sip:trunk@192.0.2.10:5080;transport=tcp", SipTransportProtocol.Tcp, "192.0.2.10", 5080)]
    [TestCase("sip:192.0.2.10;transport=TLS", SipTransportProtocol.Tls, "192.0.2.10", 5061)]
    [TestCase("sips:registrar.example.com", SipTransportProtocol.Tls, "registrar.example.com", 5061)]
    [TestCase("<sip:[2001:db8::1]:5070;lr>", SipTransportProtocol.Udp, "2001:db8::1", 5070)]
    [TestCase("sip:[::1]", SipTransportProtocol.Udp, "::1", 5060)]
    public void The_server_uri_names_protocol_host_and_port(string uri, SipTransportProtocol protocol, string host, int port) =>
        Assert.That(OutboundRegistrationService.Target(uri), Is.EqualTo((protocol, host, port)));
}
