using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.ConfigFile;

public sealed class PjsipConfTests
{
    private static string TestData(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    [Test]
    public async Task An_asterisk_configuration_loads_unchanged()
    {
        await using var backend = PjsipConfBackend.Load(TestData("pjsip.conf"), displayPath: "pjsip.conf");

        var alice = (Endpoint?)await backend.RetrieveAsync(Endpoint.Type, "1101");
        Assert.That(alice, Is.Not.Null);
        Assert.Multiple(() =>
        {
            Assert.That(alice!.Context, Is.EqualTo("from-internal"), "from the template");
            Assert.That(alice.Allow, Is.EqualTo((ValueList<string>)["ulaw", "alaw", "g722"]), "disallow=all then two allow lines");
            Assert.That(alice.DirectMedia, Is.False);
            Assert.That(alice.CallerId, Is.EqualTo(new CallerId("Alice Example", "1101")));
            Assert.That(alice.Auth, Is.EqualTo((ValueList<string>)["1101"]));
            Assert.That(alice.SendPai, Is.True);
            Assert.That(alice.IdentifyBy, Is.EqualTo((ValueList<IdentifyMethod>)[IdentifyMethod.Username, IdentifyMethod.Ip]), "Asterisk's default");
        });

        var auth = (Auth?)await backend.RetrieveAsync(Auth.Type, "1101");
        Assert.That(auth?.Password, Is.EqualTo("alice-secret;with-semicolon"), @"\; is a literal semicolon");
        var aor = (Aor?)await backend.RetrieveAsync(Aor.Type, "1101");
        Assert.That(aor, Is.EqualTo(new Aor("1101") { MaxContacts = 1, RemoveExisting = true, MinimumExpiration = 120, QualifyFrequency = 60 }));

        var bob = (Endpoint?)await backend.RetrieveAsync(Endpoint.Type, "1102");
        Assert.That(bob?.DtmfMode, Is.EqualTo(DtmfMode.Info), "from the included file");
        Assert.That(((Aor?)await backend.RetrieveAsync(Aor.Type, "1102"))?.MaxContacts, Is.EqualTo(2u), "own line after the template's");
        var carol = (Endpoint?)await backend.RetrieveAsync(Endpoint.Type, "1103");
        Assert.That(carol?.Allow, Is.EqualTo((ValueList<string>)["ulaw", "alaw"]), "allow=!g722 removes one codec");

        var global = (GlobalSettings?)await backend.RetrieveAsync(GlobalSettings.Type, "global");
        Assert.That(global?.EndpointIdentifierOrder, Is.EqualTo((ValueList<string>)["ip", "username", "anonymous"]));
        Assert.That(global?.KeepAliveInterval, Is.EqualTo(30u));

        var udp = (Transport?)await backend.RetrieveAsync(Transport.Type, "transport-udp");
        Assert.That(udp?.Bind, Is.EqualTo(IPEndPoint.Parse("0.0.0.0:5060")));
        Assert.That(udp?.LocalNet, Is.EqualTo((ValueList<IPNetwork>)[IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("10.0.0.0/8")]));
        var tls = (Transport?)await backend.RetrieveAsync(Transport.Type, "transport-tls");
        Assert.That(tls?.Protocol, Is.EqualTo(TransportProtocol.Tls));
        Assert.That(tls?.Bind, Is.EqualTo(IPEndPoint.Parse("[::]:5061")));
        Assert.That(tls?.Method, Is.EqualTo(TlsMethod.Tls12));

        var trunkAuth = (Auth?)await backend.RetrieveAsync(Auth.Type, "itsp");
        Assert.That(trunkAuth?.Md5Cred, Is.EqualTo("0123456789abcdef0123456789abcdef"));
        var identify = (Identify?)await backend.RetrieveAsync(Identify.Type, "itsp");
        Assert.That(identify?.MatchNetworks, Is.EqualTo((ValueList<IPNetwork>)[IPNetwork.Parse("198.51.100.0/24"), IPNetwork.Parse("198.51.100.77/32")]));
        Assert.That(identify?.MatchHosts, Is.EqualTo((ValueList<string>)["sip.itsp.example"]));
        var registration = (Registration?)await backend.RetrieveAsync(Registration.Type, "itsp-reg");
        Assert.That(registration?.ContactUser, Is.Empty, "inside a block comment");
        var acl = (Acl?)await backend.RetrieveAsync(Acl.Type, "office-only");
        Assert.That(acl?.Rules.Select(r => r.ToString()), Is.EqualTo(new[] { "deny=0.0.0.0/0", "permit=192.168.0.0/16", "permit=198.51.100.0/24" }));

        Assert.That(backend.Warnings.Select(w => w.ToString()), Is.EqualTo(new[]
        {
            "pjsip.conf:13: warning: [system]: type 'system' is not supported by PjSharp; section ignored",
            "pjsip.conf:64: warning: endpoint '1101': option 'language' is not supported by PjSharp; ignored",
            "pjsip.conf:64: warning: endpoint '1102': option 'language' is not supported by PjSharp; ignored",
            "pjsip.conf:64: warning: endpoint '1103': option 'language' is not supported by PjSharp; ignored",
        }), "each phone inherits the template's line, and the warning points at that line");
    }

    [Test]
    public void Every_error_names_file_line_and_key_and_all_are_reported_at_once()
    {
        using var dir = new TempDirectory();
        dir.Write("extra.conf", """
            [bob]
            type=aor
            max_contacts=lots
            """);
        var path = dir.Write("pjsip.conf", """
            [alice]
            type=endpoint
            foo=bar
            dtmf_mode=smoke-signals
            allow=ulaw,notacodec

            #include extra.conf

            [alice-auth]
            type=auth
            auth_type=md5
            username=alice

            [gizmo]
            type=gadget

            [nobody]
            context=x

            [t]
            type=transport
            protocol=udp
            bind=not-an-address
            """);
        var result = PjsipConfBackend.Check(path, "pjsip.conf");
        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
        Assert.That(errors, Is.EqualTo(new[]
        {
            "pjsip.conf:3: endpoint 'alice': unknown option 'foo'",
            "pjsip.conf:4: endpoint 'alice': dtmf_mode: invalid value 'smoke-signals': expected one of rfc4733, inband, info, auto, auto_info, none",
            "pjsip.conf:5: endpoint 'alice': allow: unknown codec 'notacodec'",
            "extra.conf:3: aor 'bob': max_contacts: invalid value 'lots': expected a whole number",
            "pjsip.conf:9: auth 'alice-auth': md5_cred: required when auth_type=md5",
            "pjsip.conf:15: [gizmo]: unknown type 'gadget'",
            "pjsip.conf:17: [nobody]: missing 'type' (endpoint, aor, auth, transport, identify, acl, registration, global)",
            "pjsip.conf:23: transport 't': bind: invalid value 'not-an-address': expected an IP address with an optional port (0.0.0.0:5060, [::]:5061)",
        }));
        Assert.That(result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Key),
            Is.EqualTo(new[] { "foo", "dtmf_mode", "allow", "max_contacts", "md5_cred", "type", "type", "bind" }));
        var thrown = Assert.Throws<ConfigurationException>(() => PjsipConfBackend.Load(path, displayPath: "pjsip.conf"));
        Assert.That(thrown!.Message, Does.StartWith("8 configuration errors:").And.Contain("pjsip.conf:3: endpoint 'alice': unknown option 'foo'"));
    }

    [Test]
    public void Syntax_errors_are_reported_with_their_line()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", """
            orphan=1
            [broken
            [ok](missing-template)
            type=endpoint
            just some words
            [ok](+)
            [new](+)
            #include nothere.conf
            #tryinclude nothere.conf
            #exec /bin/true
            ;-- never closed
            """);
        var errors = PjsipConfBackend.Check(path, "pjsip.conf").Diagnostics.Select(d => d.ToString()).ToList();
        Assert.That(errors, Is.EqualTo(new[]
        {
            "pjsip.conf:1: 'orphan' is outside of any section",
            "pjsip.conf:2: section header is missing ']'",
            "pjsip.conf:3: [ok]: template 'missing-template' is not defined above",
            "pjsip.conf:5: [ok]: expected 'name = value', got 'just some words'",
            "pjsip.conf:7: [new]: [new](+) adds to a section that is not defined above",
            "pjsip.conf:8: included file 'nothere.conf' not found",
            "pjsip.conf:10: '#exec' is not supported; generate the file beforehand and #include it",
            "pjsip.conf:11: block comment ';--' is not closed with '--;'",
        }));
    }

    [Test]
    public void Duplicate_objects_and_a_second_global_are_errors()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", """
            [a]
            type=endpoint
            [a]
            type=endpoint
            [a]
            type=aor
            [global]
            type=global
            [global2]
            type=global
            """);
        var errors = PjsipConfBackend.Check(path, "pjsip.conf").Diagnostics.Select(d => d.ToString()).ToList();
        Assert.That(errors, Is.EqualTo(new[]
        {
            "pjsip.conf:3: endpoint 'a': duplicate endpoint 'a' (first defined at pjsip.conf:1)",
            "pjsip.conf:9: global 'global2': only one global section is allowed (first at pjsip.conf:7)",
        }));
    }

    [Test]
    public async Task Templates_chain_and_append_sections_add_lines()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", """
            [base](!)
            type=endpoint
            context=base
            allow=ulaw

            [video](!,base)
            allow=h264

            [phone](video)
            context=phones

            [phone](+)
            allow=alaw
            """);
        await using var backend = PjsipConfBackend.Load(path);
        var phone = (Endpoint?)await backend.RetrieveAsync(Endpoint.Type, "phone");
        Assert.That(phone?.Context, Is.EqualTo("phones"));
        Assert.That(phone?.Allow, Is.EqualTo((ValueList<string>)["ulaw", "h264", "alaw"]));
        Assert.That(await backend.RetrieveAllAsync(Endpoint.Type), Has.Count.EqualTo(1), "templates are not objects");
    }

    [Test]
    public async Task Include_wildcards_load_in_name_order_and_cycles_are_errors()
    {
        using var dir = new TempDirectory();
        dir.Write("conf.d/b.conf", "[b]\ntype=aor\n");
        dir.Write("conf.d/a.conf", "[a]\ntype=aor\n#include pjsip.conf\n");
        var path = dir.Write("pjsip.conf", "#include conf.d/*.conf\n");
        var result = PjsipConfBackend.Check(path, "pjsip.conf");
        Assert.That(result.Objects.Select(o => o.Id), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(result.Diagnostics.Single().ToString(), Is.EqualTo("conf.d/a.conf:3: 'pjsip.conf' includes itself (include cycle)"));
        await Task.CompletedTask;
    }

    [Test]
    public async Task Ten_thousand_endpoints_load_and_resolve()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", Generate(10_000));
        var clock = Stopwatch.StartNew();
        await using var backend = PjsipConfBackend.Load(path);
        clock.Stop();
        Assert.That(await backend.RetrieveAllAsync(Endpoint.Type), Has.Count.EqualTo(10_000));
        Assert.That(backend.Count, Is.EqualTo(30_001));
        for (var i = 0; i < 10_000; i += 997)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"ext{i:D5}");
            var endpoint = (Endpoint?)await backend.RetrieveAsync(Endpoint.Type, id);
            Assert.That(endpoint?.Aors, Is.EqualTo((ValueList<string>)[id]));
            Assert.That(endpoint?.Allow, Is.EqualTo((ValueList<string>)["ulaw", "alaw"]));
            var auth = (Auth?)await backend.RetrieveAsync(Auth.Type, id);
            Assert.That(auth?.Username, Is.EqualTo(id));
            Assert.That(await backend.RetrieveAsync(Aor.Type, id), Is.Not.Null);
        }
        Assert.That(await backend.RetrieveByFieldAsync(Endpoint.Type, "auth", "ext04242"), Has.Count.EqualTo(1));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), "load time (the benchmark measures it properly)");
    }

    /// <summary>A pjsip.conf with <paramref name="count"/> endpoints, each with its auth and aor, built on templates.</summary>
    internal static string Generate(int count)
    {
        var text = new StringBuilder("""
            [transport-udp]
            type=transport
            protocol=udp
            bind=0.0.0.0:5060

            [phone](!)
            type=endpoint
            context=phones
            disallow=all
            allow=ulaw,alaw
            direct_media=no

            [phone-auth](!)
            type=auth
            auth_type=userpass

            [phone-aor](!)
            type=aor
            max_contacts=1
            remove_existing=yes

            """);
        for (var i = 0; i < count; i++)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"ext{i:D5}");
            text.Append(CultureInfo.InvariantCulture, $"[{id}](phone)\nauth={id}\naors={id}\ncallerid=\"Phone {i}\" <{i}>\n\n");
            text.Append(CultureInfo.InvariantCulture, $"[{id}](phone-auth)\nusername={id}\npassword=pw{i}\n\n");
            text.Append(CultureInfo.InvariantCulture, $"[{id}](phone-aor)\n\n");
        }
        return text.ToString();
    }

    [Test]
    public async Task Reload_applies_only_what_changed_and_keeps_the_old_file_on_errors()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", """
            [a]
            type=endpoint
            context=one
            [b]
            type=endpoint
            [c]
            type=aor
            """);
        await using var backend = PjsipConfBackend.Load(path);
        var unchanged = await backend.RetrieveAsync(Endpoint.Type, "b");
        var events = new List<BackendChangedEventArgs>();
        backend.Changed += (_, e) => events.Add(e);

        dir.Write("pjsip.conf", """
            [a]
            type=endpoint
            context=two
            [b]
            type=endpoint
            [d]
            type=aor
            """);
        var result = await backend.ReloadAsync();
        Assert.That(result.Applied, Is.True);
        Assert.That(result.Changes.Select(c => $"{c.Kind} {c.Type.Name} {c.Id}"), Is.EquivalentTo(new[]
        {
            "Updated endpoint a", "Created aor d", "Deleted aor c",
        }));
        Assert.That(await backend.RetrieveAsync(Endpoint.Type, "b"), Is.SameAs(unchanged), "an unchanged object keeps its instance");
        Assert.That(((Endpoint?)await backend.RetrieveAsync(Endpoint.Type, "a"))?.Context, Is.EqualTo("two"));
        Assert.That(events, Has.Count.EqualTo(1));
        Assert.That(events[0].ReloadedTypes, Is.EquivalentTo(new ObjectType[] { Endpoint.Type, Aor.Type }));

        dir.Write("pjsip.conf", "[a]\ntype=endpoint\ncontext=three\nbogus=1\n");
        var failed = await backend.ReloadAsync();
        Assert.That(failed.Applied, Is.False);
        Assert.That(failed.Diagnostics.Single().Key, Is.EqualTo("bogus"));
        Assert.That(((Endpoint?)await backend.RetrieveAsync(Endpoint.Type, "a"))?.Context, Is.EqualTo("two"), "the previous file stays in force");
        Assert.That(events, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Writer_output_loads_back_to_the_same_objects()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", PjsipConfWriter.Write(Samples.ContractSeed));
        await using var backend = PjsipConfBackend.Load(path);
        foreach (var expected in Samples.ContractSeed)
            Assert.That(await backend.RetrieveAsync(expected.ObjectType, expected.Id), Is.EqualTo(expected));
    }

    [Test]
    public void Contacts_cannot_be_configured_in_a_file()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", "[x]\ntype=contact\nuri=sip:a@b\n");
        Assert.That(PjsipConfBackend.Check(path, "pjsip.conf").Diagnostics.Single().ToString(),
            Is.EqualTo("pjsip.conf:2: contact 'x': contact objects are written at run time and cannot be configured in a file"));
    }
}
