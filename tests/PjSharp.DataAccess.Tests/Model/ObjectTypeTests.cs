using System.Net;
using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.Model;

public sealed class ObjectTypeTests
{
    public static IEnumerable<ObjectType> Types => ObjectTypes.All;

    [TestCaseSource(nameof(Types))]
    public void Applying_every_default_text_gives_the_default_object(ObjectType type)
    {
        var fresh = type.CreateDefault("x");
        var reapplied = fresh;
        foreach (var option in type.Options)
        {
            if (option.DefaultValue.Length > 0 || !option.IsRepeatable)
                reapplied = option.Apply(reapplied, option.DefaultValue);
        }
        Assert.That(type.ToFields(reapplied), Is.EqualTo(type.ToFields(fresh)));
    }

    [TestCaseSource(nameof(Types))]
    public void Fields_round_trip_through_text(ObjectType type)
    {
        var sample = Samples.ContractSeed.FirstOrDefault(o => o.ObjectType == type) ?? (type == Contact.Type ? Samples.ContactOf("alice", 7) : type.CreateDefault("x"));
        var back = type.FromFields(sample.Id, type.ToFields(sample));
        Assert.That(back, Is.EqualTo(sample));
        Assert.That(type.FromFields(sample.Id, type.ToFields(sample, includeDefaults: false)), Is.EqualTo(sample));
    }

    [Test]
    public void The_options_the_issue_asks_for_exist_with_asterisk_defaults()
    {
        var expected = new Dictionary<ObjectType, (string Name, string Default)[]>
        {
            [Endpoint.Type] =
            [
                ("transport", ""), ("aors", ""), ("auth", ""), ("outbound_auth", ""), ("context", "default"), ("disallow", ""), ("allow", ""),
                ("direct_media", "yes"), ("identify_by", "username,ip"), ("callerid", ""), ("from_user", ""), ("from_domain", ""),
                ("dtmf_mode", "rfc4733"), ("rtp_symmetric", "no"), ("force_rport", "yes"), ("rewrite_contact", "no"), ("100rel", "yes"),
                ("timers", "yes"), ("timers_sess_expires", "1800"), ("media_encryption", "no"), ("send_pai", "no"),
                ("trust_id_inbound", "no"), ("allow_subscribe", "yes"), ("acl", ""),
            ],
            [Auth.Type] = [("auth_type", "userpass"), ("username", ""), ("password", ""), ("md5_cred", ""), ("realm", "")],
            [Aor.Type] =
            [
                ("max_contacts", "0"), ("remove_existing", "no"), ("minimum_expiration", "60"), ("default_expiration", "3600"),
                ("maximum_expiration", "7200"), ("qualify_frequency", "0"), ("contact", ""), ("support_path", "no"),
            ],
            [Contact.Type] =
            [
                ("uri", ""), ("expiration_time", "0"), ("path", ""), ("user_agent", ""), ("via_addr", ""), ("via_port", "0"), ("call_id", ""),
                ("reg_server", ""), ("endpoint", ""), ("aor", ""),
            ],
            [Transport.Type] =
            [
                ("protocol", "udp"), ("bind", ""), ("external_signaling_address", ""), ("external_media_address", ""), ("cert_file", ""),
                ("priv_key_file", ""), ("ca_list_file", ""), ("verify_client", "no"), ("verify_server", "no"), ("method", "default"),
            ],
            [Identify.Type] = [("endpoint", ""), ("match", ""), ("match_header", "")],
            [Acl.Type] = [("permit", ""), ("deny", "")],
            [RegistrationStatus.Type] =
            [
                ("status", "unregistered"), ("last_status_code", "0"), ("granted_expiration", "0"), ("expires_at", "0"), ("next_attempt", "0"),
                ("retries", "0"), ("updated_at", "0"),
            ],
            [Registration.Type] = [("server_uri", ""), ("client_uri", ""), ("expiration", "3600"), ("retry_interval", "60"), ("max_retries", "10")],
            [GlobalSettings.Type] =
            [
                ("user_agent", "PjSharp"), ("default_realm", "asterisk"), ("endpoint_identifier_order", "ip,username,anonymous"),
                ("max_forwards", "70"), ("keep_alive_interval", "90"),
            ],
        };
        Assert.Multiple(() =>
        {
            foreach (var (type, options) in expected)
            {
                foreach (var (name, defaultValue) in options)
                {
                    var option = type.FindOption(name);
                    Assert.That(option, Is.Not.Null, $"{type.Name} {name}");
                    Assert.That(option?.DefaultValue, Is.EqualTo(defaultValue), $"{type.Name} {name} default");
                }
            }
        });
    }

    [TestCase("ulaw", new[] { "ulaw" })]
    [TestCase("ulaw,alaw,g722", new[] { "ulaw", "alaw", "g722" })]
    [TestCase("ULAW, alaw,ulaw", new[] { "ulaw", "alaw" })]
    [TestCase("all,!gsm", null)]
    public void Allow_reads_asterisk_codec_names(string allow, string[]? expected)
    {
        var endpoint = (Endpoint)Endpoint.Type.FindOption("allow")!.Apply(new Endpoint("e"), allow);
        if (expected is null)
        {
            Assert.That(endpoint.Allow, Does.Contain("ulaw").And.Contain("g722").And.Not.Contain("gsm"));
            Assert.That(endpoint.Allow.Count, Is.EqualTo(Codecs.Known.Count - 1));
        }
        else
        {
            Assert.That(endpoint.Allow, Is.EqualTo(expected));
        }
    }

    [Test]
    public void Webrtc_turns_on_what_browsers_need_as_asterisk_does()
    {
        var webrtc = (Endpoint)Endpoint.Type.FromFields("browser", [new("webrtc", "yes"), new("media_encryption", "no")]);
        Assert.That(webrtc.EffectiveMedia, Is.EqualTo((true, true, true, MediaEncryption.Dtls)), "webrtc=yes wins over the options it sets");
        var each = (Endpoint)Endpoint.Type.FromFields("phone",
            [new("use_avpf", "yes"), new("rtcp_mux", "yes"), new("ice_support", "yes"), new("media_encryption", "dtls")]);
        Assert.That(each.EffectiveMedia, Is.EqualTo((true, true, true, MediaEncryption.Dtls)));
        Assert.That(((Endpoint)Endpoint.Type.CreateDefault("plain")).EffectiveMedia, Is.EqualTo((false, false, false, MediaEncryption.No)));
    }

    [Test]
    public void Acl_rules_keep_their_order_through_storage()
    {
        var acl = (Acl)Acl.Type.FromFields("a", [new("permit", "10.0.0.0/8"), new("deny", "10.1.0.0/16"), new("permit", "10.1.2.0/24")]);
        Assert.That(acl.Rules.Select(r => r.Action), Is.EqualTo(new[] { AclAction.Permit, AclAction.Deny, AclAction.Permit }));
        Assert.That(Acl.Type.ToFields(acl).Where(f => f.Key is "permit" or "deny").Select(f => $"{f.Key}={f.Value}"),
            Is.EqualTo(new[] { "permit=10.0.0.0/8", "deny=10.1.0.0/16", "permit=10.1.2.0/24" }));
    }

    [TestCase("192.168.1.77/24", "192.168.1.0/24")]
    [TestCase("10.0.0.0/255.0.0.0", "10.0.0.0/8")]
    [TestCase("198.51.100.7", "198.51.100.7/32")]
    [TestCase("2001:db8::1/32", "2001:db8::/32")]
    public void Networks_parse_in_asterisk_forms(string text, string expected)
    {
        Assert.That(NetworkText.TryParseNetwork(text, out var network), Is.True);
        Assert.That(network.ToString(), Is.EqualTo(expected));
    }

    [TestCase("10.0.0.0/33")]
    [TestCase("10.0.0.0/255.0.255.0")]
    [TestCase("host.example")]
    public void Bad_networks_are_rejected(string text) => Assert.That(NetworkText.TryParseNetwork(text, out _), Is.False);

    [TestCase("\"Alice Smith\" <1001>", "Alice Smith", "1001")]
    [TestCase("Bob <1002>", "Bob", "1002")]
    [TestCase("<1003>", "", "1003")]
    [TestCase("+1 555 0100", "", "+1 555 0100")]
    [TestCase("Reception", "Reception", "")]
    public void Caller_ids_parse_like_asterisk(string text, string name, string number) =>
        Assert.That(CallerId.Parse(text), Is.EqualTo(new CallerId(name, number)));

    [Test]
    public void Validation_names_the_missing_key()
    {
        var error = Assert.Throws<ConfigurationException>(() => Registration.Type.FromFields("r", [new("client_uri", "sip:a@b")], "db"));
        Assert.That(error!.Diagnostics.Single().Key, Is.EqualTo("server_uri"));
        Assert.That(error.Diagnostics.Single().ToString(), Is.EqualTo("db: registration 'r': server_uri: required"));
        Assert.Throws<ConfigurationException>(() => Identify.Type.FromFields("i", [new("match", "10.0.0.1")]));
        Assert.Throws<ConfigurationException>(() => Auth.Type.FromFields("a", [new("username", "u")]));
        Assert.Throws<ConfigurationException>(() => Transport.Type.FromFields("t", [new("protocol", "tcp")]));
        Assert.That(Transport.Type.FromFields("t", [new("protocol", "ws")]), Is.InstanceOf<Transport>(), "WebSocket transports need no bind");
    }

    [Test]
    public void Query_values_are_canonicalised()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Endpoint.Type.CanonicalizeField("DIRECT_MEDIA", "true"), Is.EqualTo(("direct_media", "yes")));
            Assert.That(Endpoint.Type.CanonicalizeField("allow", "ULAW,alaw"), Is.EqualTo(("allow", "ulaw,alaw")));
            Assert.That(Endpoint.Type.CanonicalizeField("timers", "forced"), Is.EqualTo(("timers", "always")));
            Assert.That(Acl.Type.CanonicalizeField("deny", "10.0.0.0/255.0.0.0"), Is.EqualTo(("deny", "10.0.0.0/8")));
        });
        Assert.Throws<ArgumentException>(() => Endpoint.Type.CanonicalizeField("nope", "x"));
        Assert.Throws<ArgumentException>(() => Endpoint.Type.CanonicalizeField("dtmf_mode", "smoke"));
    }

    [Test]
    public void Contact_ids_group_by_aor()
    {
        var id = Contact.CreateId("alice", "sip:alice@192.0.2.1");
        Assert.That(id, Does.StartWith(Contact.IdPrefix("alice")));
        Assert.That(id, Is.EqualTo(Contact.CreateId("alice", "sip:alice@192.0.2.1")));
        Assert.That(id, Is.Not.EqualTo(Contact.CreateId("alice", "sip:alice@192.0.2.2")));
    }

    [Test]
    public void Secrets_stay_out_of_ToString()
    {
        Assert.That(Samples.AliceAuth.ToString(), Does.Not.Contain("secret"));
        Assert.That((Samples.Udp with { Password = "keypass" }).ToString(), Does.Not.Contain("keypass"));
    }

    [Test]
    public void Endpoints_compare_by_value()
    {
        var one = Samples.Alice;
        var other = Samples.Alice;
        Assert.That(other, Is.Not.SameAs(one));
        Assert.That(other, Is.EqualTo(one));
        Assert.That(one with { Allow = ["ulaw"] }, Is.Not.EqualTo(one));
        var t1 = new Transport("t") { Bind = IPEndPoint.Parse("0.0.0.0:5060") };
        var t2 = new Transport("t") { Bind = IPEndPoint.Parse("0.0.0.0:5060") };
        Assert.That(t2, Is.EqualTo(t1));
    }
}
