using System.CommandLine;
using PjSharp.DataAccess;
using PjSharp.DataAccess.Sqlite;
using PjSharp.Server.Commands;

namespace PjSharp.Server.Tests;

/// <summary>The check-config and show commands, run in-process as the pjsharp app would.</summary>
public sealed class ConfigCommandTests
{
    private string _directory = null!;

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "pjsharp-cmd-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand("test") { ConfigCommands.CreateCheckConfigCommand(), ConfigCommands.CreateShowCommand() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    private const string GoodConfig = """
        [transport-udp]
        type=transport
        protocol=udp
        bind=0.0.0.0:5060

        [phone](!)
        type=endpoint
        context=phones
        disallow=all
        allow=ulaw

        [alice](phone)
        auth=alice
        aors=alice

        [alice]
        type=auth
        username=alice
        password=secret

        [alice]
        type=aor
        max_contacts=1
        """;

    [Test]
    public void Check_config_of_a_good_file_exits_zero()
    {
        var (exitCode, output, _) = Run("check-config", Write("pjsip.conf", GoodConfig));
        Assert.That(exitCode, Is.Zero);
        Assert.That(output, Does.Contain("OK (1 transport, 1 endpoint, 1 auth, 1 aor), 0 warnings"));
    }

    [Test]
    public void Check_config_reports_every_error_with_file_line_and_key_and_exits_non_zero()
    {
        var path = Write("pjsip.conf", GoodConfig + "\nfoo=bar\n[bob]\ntype=endpoint\ndtmf_mode=smoke\n");
        var (exitCode, _, error) = Run("check-config", path);
        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error, Does.Contain($"{path}:24: aor 'alice': unknown option 'foo'"));
        Assert.That(error, Does.Contain($"{path}:27: endpoint 'bob': dtmf_mode: invalid value 'smoke'"));
        Assert.That(error, Does.Contain("2 errors, 0 warnings"));
    }

    [Test]
    public void Show_prints_a_table_per_kind()
    {
        var path = Write("pjsip.conf", GoodConfig);
        var (exitCode, output, error) = Run("show", "endpoints", "--config", path, "--format", "table");
        Assert.That((exitCode, error), Is.EqualTo((0, "")));
        Assert.That(output, Does.Contain("Endpoints").And.Contain("alice").And.Contain("phones").And.Contain("ulaw"));
        // Not a terminal: plain tab-separated rows.
        Assert.That(Run("show", "endpoints", "--config", path).Output.Split('\n')[1], Does.StartWith("alice\t-\talice\talice\tphones\tulaw\t"));
        Assert.That(Run("show", "transports", "--config", path).Output, Does.Contain("0.0.0.0:5060"));
        Assert.That(Run("show", "auths", "--config", path).Output, Does.Contain("alice").And.Not.Contain("secret"));
    }

    [Test]
    public async Task Show_aors_includes_contacts_from_the_database()
    {
        var path = Write("pjsip.conf", GoodConfig);
        var db = Path.Combine(_directory, "pjsharp.db");
        await using (var sqlite = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = db }))
        {
            await sqlite.CreateAsync(new Contact(Contact.CreateId("alice", "sip:alice@192.0.2.9")) { Uri = "sip:alice@192.0.2.9", Aor = "alice" });
        }
        var (exitCode, output, _) = Run("show", "aors", "--config", path, "--db", db);
        Assert.That(exitCode, Is.Zero);
        Assert.That(output, Does.Contain("sip:alice@192.0.2.9"));
    }

    [Test]
    public void Show_of_a_bad_file_fails_with_file_line_and_key()
    {
        var path = Write("pjsip.conf", "[a]\ntype=endpoint\nfoo=1\n");
        var (exitCode, output, error) = Run("show", "endpoints", "--config", path);
        Assert.That(exitCode, Is.EqualTo(1));
        Assert.That(error, Does.Contain($"{path}:3: endpoint 'a': unknown option 'foo'"));
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void Show_without_files_or_a_server_says_what_to_give()
    {
        var (exitCode, _, error) = Run("show", "endpoints", "--db", Path.Combine(_directory, "pjsharp.db"));
        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(error, Does.Contain("give --config <pjsip.conf>"));
        var live = Run("show", "calls", "--config", Write("pjsip.conf", GoodConfig));
        Assert.That(live.ExitCode, Is.EqualTo(2));
        Assert.That(live.Error, Does.Contain("calls comes from a running server only"));
    }

    [Test]
    public void Show_rejects_an_unknown_kind_and_a_missing_database()
    {
        var path = Write("pjsip.conf", GoodConfig);
        Assert.That(Run("show", "gadgets", "--config", path).ExitCode, Is.Not.Zero);
        var missing = Run("show", "aors", "--config", path, "--db", Path.Combine(_directory, "none.db"));
        Assert.That(missing.ExitCode, Is.EqualTo(2));
        Assert.That(missing.Error, Does.Contain("does not exist"));
    }
}
