using Microsoft.Extensions.Configuration;
using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.Configuration;

public sealed class ConfigurationBackendTests
{
    [Test]
    public async Task Appsettings_json_is_read_by_type_then_id()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("appsettings.json", """
            {
              "PjSip": {
                "transport": { "udp": { "protocol": "udp", "bind": "0.0.0.0:5060" } },
                "endpoint": {
                  "alice": { "aors": "alice", "auth": "alice", "allow": [ "!all", "ulaw", "alaw" ], "direct_media": "no" }
                },
                "aor": { "alice": { "max_contacts": "2" } },
                "auth": { "alice": { "username": "alice", "password": "pw" } }
              }
            }
            """);
        var configuration = new ConfigurationBuilder().AddJsonFile(path).Build();
        await using var backend = ConfigurationBackend.Load(configuration.GetSection("PjSip"));
        var alice = (Endpoint?)await backend.RetrieveAsync(Endpoint.Type, "alice");
        Assert.That(alice, Is.EqualTo(new Endpoint("alice") { Aors = ["alice"], Auth = ["alice"], Allow = ["ulaw", "alaw"], DirectMedia = false }));
        Assert.That(((Aor?)await backend.RetrieveAsync(Aor.Type, "alice"))?.MaxContacts, Is.EqualTo(2u));
        Assert.That(backend.Name, Is.EqualTo("configuration (PjSip)"));
    }

    [Test]
    public void Errors_name_the_configuration_path_and_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PjSip:endpoint:alice:foo"] = "1",
            ["PjSip:endpoint:alice:dtmf_mode"] = "smoke",
            ["PjSip:gadget:x:y"] = "1",
            ["PjSip:contact:c:uri"] = "sip:a@b",
        }).Build();
        var errors = ConfigurationBackend.Check(configuration.GetSection("PjSip")).Diagnostics.Select(d => d.ToString()).ToList();
        Assert.That(errors, Is.EquivalentTo(new[]
        {
            "PjSip:endpoint:alice:foo: endpoint 'alice': unknown option 'foo'",
            "PjSip:endpoint:alice:dtmf_mode: endpoint 'alice': dtmf_mode: invalid value 'smoke': expected one of rfc4733, inband, info, auto, auto_info, none",
            "PjSip:gadget: unknown type 'gadget'",
            "PjSip:contact: contact objects are written at run time and cannot be configured",
        }));
        Assert.Throws<ConfigurationException>(() => ConfigurationBackend.Load(configuration.GetSection("PjSip")));
    }

    [Test]
    public async Task A_provider_reload_applies_what_changed_when_watched()
    {
        var source = new Dictionary<string, string?> { ["PjSip:endpoint:alice:context"] = "one", ["PjSip:endpoint:bob:context"] = "same" };
        var provider = new ReloadableSource(source);
        var configuration = new ConfigurationBuilder().Add(provider).Build();
        await using var backend = ConfigurationBackend.Load(configuration.GetSection("PjSip"), watch: true);
        var changes = new List<ObjectChange>();
        backend.Changed += (_, e) => changes.AddRange(e.Changes);

        provider.Set("PjSip:endpoint:alice:context", "two");
        Assert.That(changes.Select(c => $"{c.Kind} {c.Id}"), Is.EqualTo(new[] { "Updated alice" }));
        Assert.That(((Endpoint?)await backend.RetrieveAsync(Endpoint.Type, "alice"))?.Context, Is.EqualTo("two"));
    }

    private sealed class ReloadableSource(Dictionary<string, string?> initial) : IConfigurationSource
    {
        private Provider? _provider;

        public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider ??= new Provider(initial);

        public void Set(string key, string value) => _provider!.SetAndReload(key, value);

        private sealed class Provider(Dictionary<string, string?> initial) : ConfigurationProvider
        {
            public override void Load() => Data = new Dictionary<string, string?>(initial, StringComparer.OrdinalIgnoreCase);

            public void SetAndReload(string key, string value)
            {
                Data[key] = value;
                OnReload();
            }
        }
    }
}
