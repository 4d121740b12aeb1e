using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using PjSharp.DataAccess;
using PjSharp.DataAccess.PostgreSql;
using PjSharp.Server.Commands;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Hosting;

/// <summary>
/// <c>pjsharp serve</c> with <c>PjSharp:PostgreSql</c> (the system test cluster on loopback, a schema per test) and the
/// <c>pjsharp db</c> commands that manage what the nodes share.
/// </summary>
public sealed class SharedDatabaseTests
{
    private const string DefaultConnectionString = "Host=127.0.0.1;Port=5432;Username=pjsharp;Password=pjsharp;Database=pjsharp_test";
    private string _schema = null!;
    private string _directory = null!;

    private static string ConnectionString =>
        Environment.GetEnvironmentVariable("PJSHARP_TEST_POSTGRES") is { Length: > 0 } configured ? configured : DefaultConnectionString;

    [SetUp]
    public void SetUp()
    {
        _schema = "s_" + Guid.NewGuid().ToString("N")[..16];
        _directory = Directory.CreateTempSubdirectory("pjsharp-shared-db-").FullName;
    }

    [TearDown]
    public async Task TearDown()
    {
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE", connection);
            await command.ExecuteNonQueryAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }

    [Test]
    [CancelAfter(90_000)]
    public async Task A_user_written_with_pjsharp_db_registers_on_a_running_node_within_a_second_and_is_gone_after_delete()
    {
        await using var node = await StartNodeAsync("node-a", ["contact", "endpoint", "auth", "aor"]);
        var udp = node.Listening.First(l => l.Protocol == "udp").EndPoint;
        using var dave = new SipPhone(udp, "dave", "secret-dave");
        Assert.That(SipWire.StatusOf(await dave.RegisterAsync()), Is.EqualTo(401), "dave is unknown at first");

        Assert.That(Db("set", "auth", "dave", "username=dave", "password=secret-dave").ExitCode, Is.Zero);
        Assert.That(Db("set", "aor", "dave", "max_contacts=2").ExitCode, Is.Zero);
        var written = Stopwatch.StartNew();
        var set = Db("set", "endpoint", "dave", "auth=dave", "aors=dave", "context=default");
        Assert.That(set.ExitCode, Is.Zero, set.Error);
        Assert.That(set.Output, Does.Contain("created endpoint 'dave'"));
        var status = await PollRegisterAsync(dave, 200, TimeSpan.FromSeconds(1));
        Assert.That(status, Is.EqualTo(200), $"the node took dave within a second of the write ({written.ElapsedMilliseconds} ms):\n{node.OutputTail(30)}");

        await using (var shared = await OpenSharedAsync())
        {
            var contacts = await shared.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("dave"));
            Assert.That(contacts.Cast<Contact>().Select(c => c.RegistrationServer), Is.EqualTo(new[] { "node-a" }), "the binding is in the shared database, under this node's name");
        }

        Assert.That(Db("delete", "endpoint", "dave").ExitCode, Is.Zero);
        Assert.That(await PollRegisterAsync(dave, 401, TimeSpan.FromSeconds(1)), Is.EqualTo(401), "a deleted endpoint is refused within a second");
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Import_copies_a_pjsip_conf_into_the_shared_database_and_bad_input_names_the_key()
    {
        var config = Path.Combine(_directory, "users.conf");
        await File.WriteAllTextAsync(config, RegistrarTestServer.Phones());
        var imported = Db("import", "--config", config);
        Assert.That(imported.ExitCode, Is.Zero, imported.Error);
        Assert.That(imported.Output, Does.Contain("imported 9 objects (endpoint 3, auth 3, aor 3)"));
        await using (var shared = await OpenSharedAsync())
            Assert.That((await shared.RetrieveAllAsync(Endpoint.Type)).Select(e => e.Id), Is.EqualTo(new[] { "alice", "bob", "carol" }));

        var bad = Db("set", "aor", "erin", "max_contacts=many");
        Assert.That(bad.ExitCode, Is.EqualTo(1));
        Assert.That(bad.Error, Does.Contain("max_contacts"), "a bad value names its key");
        var nowhere = Run("db", "set", "aor", "erin");
        Assert.That(nowhere.ExitCode, Is.EqualTo(2));
        Assert.That(nowhere.Error, Does.Contain("--db <file> or --postgres"));
    }

    private static async Task<int> PollRegisterAsync(SipPhone phone, int wanted, TimeSpan within)
    {
        var deadline = Stopwatch.StartNew();
        var status = 0;
        while (deadline.Elapsed < within)
        {
            status = SipWire.StatusOf(await phone.RegisterAsync());
            if (status == wanted)
                return status;
            await Task.Delay(50);
        }
        return status;
    }

    private (int ExitCode, string Output, string Error) Db(params string[] args) =>
        Run(["db", .. args, "--postgres", ConnectionString, "--schema", _schema]);

    private static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var root = new RootCommand("test") { DatabaseCommands.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    private Task<PostgreSqlBackend> OpenSharedAsync() =>
        PostgreSqlBackend.OpenAsync(new PostgreSqlBackendOptions { ConnectionString = ConnectionString, Schema = _schema, ListenForChanges = false });

    private async Task<ServerProcess> StartNodeAsync(string name, string[] sharedTypes)
    {
        var config = Path.Combine(_directory, "pjsip.conf");
        await File.WriteAllTextAsync(config, RegistrarTestServer.Phones());
        var settings = Path.Combine(_directory, name + ".json");
        await File.WriteAllTextAsync(settings, JsonSerializer.Serialize(new
        {
            PjSharp = new
            {
                NodeName = name,
                PostgreSql = new { ConnectionString, Schema = _schema, Types = sharedTypes },
            },
        }));
        var options = SipTestServer.Locate().Serve(
            ["--settings", settings, "--config", config, "--db", Path.Combine(_directory, name + ".db"), "--transport", "udp:127.0.0.1:0"]) with
        {
            ReadyTimeout = SipTestServer.ReadyTimeout,
            WorkingDirectory = _directory,
        };
        return await ServerProcess.StartAsync(options);
    }
}
