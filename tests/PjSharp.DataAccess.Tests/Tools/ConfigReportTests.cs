using PjSharp.DataAccess.Sqlite;
using PjSharp.DataAccess.Tests.Support;
using PjSharp.DataAccess.Tools;

namespace PjSharp.DataAccess.Tests.Tools;

public sealed class ConfigReportTests
{
    [Test]
    public void Check_config_reports_every_error_and_exits_non_zero()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", "[a]\ntype=endpoint\nfoo=1\n[b]\ntype=aor\nmax_contacts=x\nvoicemail_extension=100\n");
        var report = ConfigReport.Check(path);
        Assert.That(report.ExitCode, Is.EqualTo(ConfigReport.ExitConfigErrors));
        Assert.That(report.Lines, Is.EqualTo(new[]
        {
            $"{path}:3: endpoint 'a': unknown option 'foo'",
            $"{path}:6: aor 'b': max_contacts: invalid value 'x': expected a whole number",
            $"{path}:7: warning: aor 'b': option 'voicemail_extension' is not supported by PjSharp; ignored",
            $"{path}: 2 errors, 1 warning",
        }));
    }

    [Test]
    public void Check_config_of_a_good_file_counts_objects()
    {
        var report = ConfigReport.Check(Path.Combine(AppContext.BaseDirectory, "TestData", "pjsip.conf"));
        Assert.That(report.ExitCode, Is.Zero);
        Assert.That(report.Lines[^1], Does.EndWith("OK (1 global, 4 transports, 4 endpoints, 4 auths, 4 aors, 1 identify, 1 acl, 1 registration), 4 warnings"));
    }

    [Test]
    public void Check_config_of_a_missing_file_is_a_usage_error()
    {
        var report = ConfigReport.Check("/nonexistent/pjsip.conf");
        Assert.That(report.ExitCode, Is.EqualTo(ConfigReport.ExitUsage));
        Assert.That(report.Lines[0], Is.EqualTo("/nonexistent/pjsip.conf: file not found"));
    }

    [Test]
    public async Task Show_lists_each_kind_as_a_table()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "TestData", "pjsip.conf");
        var endpoints = await ConfigReport.ShowAsync("endpoints", path);
        Assert.That(endpoints.ExitCode, Is.Zero);
        var table = endpoints.Tables.Single();
        Assert.That(table.Columns[0], Is.EqualTo("Endpoint"));
        Assert.That(table.Rows.Select(r => r[0]), Is.EqualTo(new[] { "1101", "1102", "1103", "itsp" }));
        Assert.That(table.Rows[0][5], Is.EqualTo("ulaw,alaw,g722"));

        var auths = (await ConfigReport.ShowAsync("auths", path)).Tables.Single();
        Assert.That(auths.Rows.SelectMany(r => r), Has.None.Contains("secret"), "passwords are never shown");
        var transports = (await ConfigReport.ShowAsync("transports", path)).Tables.Single();
        Assert.That(transports.Rows.Select(r => r[2]), Is.EqualTo(new[] { "0.0.0.0", "[::]:5061", "0.0.0.0:5060", "0.0.0.0" }), "tcp, tls, udp, wss: ordered by id");
        Assert.That((await ConfigReport.ShowAsync("aors", path)).Tables.Single().Rows, Has.Count.EqualTo(4));
    }

    [Test]
    public async Task Show_adds_objects_and_contacts_from_the_database()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", "[alice]\ntype=aor\nmax_contacts=2\n");
        await using var sqlite = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = dir.File("db.sqlite") });
        await sqlite.CreateAsync(Samples.ContactOf("alice", 1));
        await sqlite.CreateAsync(new Aor("bob"));
        var aors = (await ConfigReport.ShowAsync("aors", path, sqlite)).Tables.Single();
        Assert.That(aors.Rows.Select(r => r[0]), Is.EqualTo(new[] { "alice", "bob" }));
        Assert.That(aors.Rows[0][2], Is.EqualTo(Samples.ContactOf("alice", 1).Uri));
        var contacts = (await ConfigReport.ShowAsync("contacts", path, sqlite)).Tables.Single();
        Assert.That(contacts.Rows, Has.Count.EqualTo(1));
    }

    [Test]
    public async Task Show_contacts_gives_the_status_qualify_wrote_and_the_permanent_contacts_it_qualifies()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", "[alice]\ntype=aor\nmax_contacts=3\n\n[gw]\ntype=aor\ncontact=sip:gw@192.0.2.9:5060\nqualify_frequency=30\n");
        await using var sqlite = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = dir.File("db.sqlite") });
        var reachable = Samples.ContactOf("alice", 1) with { QualifyFrequency = 60 };
        var unqualified = Samples.ContactOf("alice", 2) with { QualifyFrequency = 0 };
        var waiting = Samples.ContactOf("alice", 3) with { QualifyFrequency = 60 };
        foreach (var contact in new[] { reachable, unqualified, waiting })
            await sqlite.CreateAsync(contact);
        await sqlite.CreateAsync(new ContactStatus(reachable.Id) { Aor = "alice", Uri = reachable.Uri, Status = ContactReachability.Reachable, RoundTripMicroseconds = 1500 });
        var gateway = Contact.CreateId("gw", "sip:gw@192.0.2.9:5060");
        await sqlite.CreateAsync(new ContactStatus(gateway) { Aor = "gw", Uri = "sip:gw@192.0.2.9:5060", Status = ContactReachability.Unreachable });

        var table = (await ConfigReport.ShowAsync("contacts", path, sqlite)).Tables.Single();

        Assert.That(table.Columns.Skip(table.Columns.Count - 2), Is.EqualTo(new[] { "Status", "RTT" }));
        var byId = table.Rows.ToDictionary(r => r[0], r => (Status: r[^2], Rtt: r[^1], Expires: r[3]));
        Assert.That(byId[reachable.Id], Is.EqualTo((Status: "Reachable", Rtt: "1.5 ms", Expires: byId[reachable.Id].Expires)));
        Assert.That(byId[unqualified.Id].Status, Is.EqualTo("-"), "qualify off");
        Assert.That(byId[waiting.Id].Status, Is.EqualTo("Unknown"), "not qualified yet");
        Assert.That(byId[gateway], Is.EqualTo((Status: "Unreachable", Rtt: "-", Expires: "permanent")));
    }

    [Test]
    public async Task Show_registrations_adds_the_status_the_server_wrote()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf",
            "[trunk]\ntype=registration\nserver_uri=sip:registrar.example.com\nclient_uri=sip:me@example.com\n" +
            "[spare]\ntype=registration\nserver_uri=sip:other.example.com\nclient_uri=sip:me@example.com\n");
        var withoutDatabase = (await ConfigReport.ShowAsync("registrations", path)).Tables.Single();
        Assert.That(withoutDatabase.Rows.Select(r => r[5]), Is.EqualTo(new[] { "-", "-" }), "no status without a database");

        await using var sqlite = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = dir.File("db.sqlite") });
        var expires = DateTimeOffset.FromUnixTimeSeconds(1_900_000_000);
        await sqlite.CreateAsync(new RegistrationStatus("trunk")
        {
            State = RegistrationState.Registered, LastStatusCode = 200, GrantedExpiration = 3600, ExpiresAt = expires, NextAttempt = expires.AddSeconds(-10),
        });
        var table = (await ConfigReport.ShowAsync("registrations", path, sqlite)).Tables.Single();
        Assert.That(table.Columns.Skip(5), Is.EqualTo(new[] { "Status", "Last code", "Expires", "Next attempt", "Retries" }));
        var spare = table.Rows.Single(r => r[0] == "spare");
        var trunk = table.Rows.Single(r => r[0] == "trunk");
        Assert.That(trunk.Skip(5), Is.EqualTo(new[] { "registered", "200", "2030-03-17 17:46:40Z", "2030-03-17 17:46:30Z", "0" }));
        Assert.That(spare.Skip(5), Is.EqualTo(new[] { "-", "-", "-", "-", "-" }), "never started: no status object");
    }

    [Test]
    public async Task Show_of_a_bad_file_or_kind_fails_with_the_same_messages()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("pjsip.conf", "[a]\ntype=endpoint\nfoo=1\n");
        var bad = await ConfigReport.ShowAsync("endpoints", path);
        Assert.That(bad.ExitCode, Is.EqualTo(ConfigReport.ExitConfigErrors));
        Assert.That(bad.Errors, Is.EqualTo(new[] { $"{path}:3: endpoint 'a': unknown option 'foo'" }));
        var usage = await ConfigReport.ShowAsync("gadgets", path);
        Assert.That(usage.ExitCode, Is.EqualTo(ConfigReport.ExitUsage));
    }
}
