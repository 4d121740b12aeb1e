using PjSharp.Registrar;

namespace PjSharp.Tests.Registrar;

public sealed class ContactUriTests
{
    [TestCase("SIP:alice@EXAMPLE.com:5060;Transport=TCP", "sip:alice@example.com:5060;transport=tcp")]
    [TestCase("sips:Alice@Example.COM", "sips:Alice@example.com")]
    [TestCase("sip:EXAMPLE.com;LR", "sip:example.com;lr")]
    [TestCase("sip:Bob:PassWord@[2001:DB8::1]:5070", "sip:Bob:PassWord@[2001:db8::1]:5070")]
    [TestCase("sip:+1555;Phone-Context=X@Gateway.Example", "sip:+1555;Phone-Context=X@gateway.example")]
    [TestCase("sip:a@H?Subject=A@B", "sip:a@h?subject=a@b")]
    [TestCase("TEL:+1-555-0100;Ext=9", "tel:+1-555-0100;Ext=9")]
    public void Normalize_keeps_the_user_part_and_lowercases_the_rest_of_sip_uris(string uri, string expected)
    {
        Assert.That(ContactUri.Normalize(uri), Is.EqualTo(expected));
    }

    [Test]
    public void Equality_ignores_case_outside_the_user_part_only()
    {
        Assert.That(ContactUri.AreEquivalent("sip:alice@EXAMPLE.com;transport=TCP", "Sip:alice@example.COM;TRANSPORT=tcp"), Is.True);
        Assert.That(ContactUri.AreEquivalent("sip:alice@example.com", "sip:Alice@example.com"), Is.False, "userinfo is case-sensitive");
        Assert.That(ContactUri.AreEquivalent("sip:a@h:5060", "sip:a@h"), Is.False, "an explicit default port is not the same URI");
        Assert.That(ContactUri.AreEquivalent("sip:a@h;lr;transport=tcp", "sip:a@h;transport=tcp;lr"), Is.False, "parameter order is not normalized (documented)");
        Assert.That(ContactUri.Comparer.Equals("sip:a@H", "sip:a@h"), Is.True);
        Assert.That(ContactUri.Comparer.GetHashCode("sip:a@H"), Is.EqualTo(ContactUri.Comparer.GetHashCode("sip:a@h")));
    }

    [TestCase("sip:a@h", true)]
    [TestCase("SIPS:a@h", true)]
    [TestCase("tel:+15550100", false)]
    [TestCase("urn:uuid:1", false)]
    public void Only_sip_and_sips_are_bound(string uri, bool expected)
    {
        Assert.That(ContactUri.IsSipOrSips(uri), Is.EqualTo(expected));
    }
    [TestCase("sip:alice@df7jal23ls0d.invalid;transport=ws", "sip:alice@192.0.2.7:50123;transport=ws")]
    [TestCase("sip:alice@df7jal23ls0d.invalid;transport=WS;ob", "sip:alice@192.0.2.7:50123;ob;transport=ws")]
    [TestCase("sip:df7jal23ls0d.invalid:9999", "sip:192.0.2.7:50123;transport=ws")]
    [TestCase("sip:alice;x=1@h.invalid;rinstance=abc?X-Y=1", "sip:alice;x=1@192.0.2.7:50123;rinstance=abc;transport=ws?X-Y=1")]
    [TestCase("tel:+15550100", "tel:+15550100")]
    public void A_websocket_contact_is_bound_to_its_connection(string uri, string expected)
    {
        Assert.That(ContactUri.WithTarget(uri, new System.Net.IPEndPoint(System.Net.IPAddress.Parse("192.0.2.7"), 50123), "ws"), Is.EqualTo(expected));
    }

    [Test]
    public void A_websocket_contact_over_ipv6_gets_brackets()
    {
        Assert.That(ContactUri.WithTarget("sip:bob@[2001:db8::1]:5060;transport=wss", new System.Net.IPEndPoint(System.Net.IPAddress.Parse("2001:db8::9"), 443), "wss"),
            Is.EqualTo("sip:bob@[2001:db8::9]:443;transport=wss"));
    }
}
