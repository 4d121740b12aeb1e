using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;
using PjSharp.DataAccess;
using PjSharp.DataAccess.PostgreSql;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Cluster;

/// <summary>
/// The cluster of deploy/cluster/cluster.sh on loopback, for the tests: Kamailio on 127.0.0.10:5060,
/// node-a on 127.0.0.11:5060, node-b on 127.0.0.12:5060, a private PostgreSQL on 127.0.0.13:5432,
/// every node reading one generated pjsip.conf in which each user's password is <c>secret-USER</c>.
/// Phones are SIPp runs on 127.0.0.1.
/// </summary>
internal sealed partial class ClusterTopology : IAsyncDisposable
{
    public const string Proxy = "127.0.0.10:5060";
    public const string ProxyAddress = "127.0.0.10";
    public static readonly IReadOnlyList<string> NodeAddresses = ["127.0.0.11:5060", "127.0.0.12:5060"];

    private readonly string _root;

    private ClusterTopology(string root, ClusterScript script)
    {
        _root = root;
        Script = script;
    }

    public ClusterScript Script { get; }

    public ClusterOptions Options => Script.Options;

    /// <summary>A scratch directory of the test run, deleted at the end.</summary>
    public string Scratch => Path.Combine(_root, "scratch");

    /// <summary>node-a, node-b.</summary>
    public IReadOnlyList<string> Nodes => Options.NodeNames;

    public static string NodeAddress(string node) => NodeAddresses[node[^1] - 'a'];

    public static string NodeUri(string node) => "sip:" + NodeAddress(node);

    public static string Password(string user) => "secret-" + user;

    /// <summary>Writes the configuration for <paramref name="users"/>, then starts the cluster through the script.</summary>
    public static async Task<ClusterTopology> StartAsync(IEnumerable<string> users, IReadOnlyList<string> types)
    {
        var launch = SipTestServer.Locate();
        var root = Directory.CreateTempSubdirectory("pjsharp-cluster-").FullName;
        // PostgreSQL runs as the postgres user, which must reach its data directory inside.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        Directory.CreateDirectory(Path.Combine(root, "scratch"));
        var config = Path.Combine(root, "pjsip.conf");
        await File.WriteAllTextAsync(config, Configuration(users));
        var script = new ClusterScript(new ClusterOptions
        {
            RunDirectory = Path.Combine(root, "run"),
            ConfigFile = config,
            Proxy = Proxy,
            Nodes = NodeAddresses,
            Types = types,
            Server = ClusterScript.ServerPath(launch),
            KamailioWorkers = 2,
        });
        var topology = new ClusterTopology(root, script);
        try
        {
            await script.StartAsync();
            return topology;
        }
        catch
        {
            await topology.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Every user an endpoint with digest authentication and an AOR keeping Path (support_path), one
    /// binding each; expirations down to 1 s so the expiry test need not wait; expired bindings
    /// looked for every second.
    /// </summary>
    private static string Configuration(IEnumerable<string> users)
    {
        var text = new StringBuilder("""
            [global]
            type=global
            endpoint_identifier_order=username,ip
            contact_expiration_check_interval=1

            [phone](!)
            type=endpoint
            context=default
            allow=!all,ulaw,alaw

            [phone-auth](!)
            type=auth
            auth_type=userpass

            [phone-aor](!)
            type=aor
            max_contacts=1
            remove_existing=yes
            minimum_expiration=1
            support_path=yes

            """);
        foreach (var user in users)
            text.Append(CultureInfo.InvariantCulture, $"\n[{user}](phone)\nauth={user}\naors={user}\n\n[{user}](phone-auth)\nusername={user}\npassword={Password(user)}\n\n[{user}](phone-aor)\n");
        return text.ToString();
    }

    /// <summary>A backend on the shared database, opened for one use (a restarted server leaves a pool's connections broken).</summary>
    public Task<PostgreSqlBackend> OpenDatabaseAsync() => PostgreSqlBackend.OpenAsync(new PostgreSqlBackendOptions
    {
        ConnectionString = Options.ConnectionString,
        ListenForChanges = false,
        NodeId = "cluster-tests",
    });

    /// <summary>The bindings in the shared database, by AOR.</summary>
    public async Task<IReadOnlyDictionary<string, Contact>> ContactsAsync()
    {
        await using var database = await OpenDatabaseAsync();
        var contacts = await database.RetrieveAllAsync(Contact.Type);
        return contacts.Cast<Contact>().GroupBy(c => c.Aor, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
    }

    /// <summary>Writes a user (endpoint, auth, AOR with support_path) to the shared database, in one transaction.</summary>
    public async Task ProvisionAsync(string user)
    {
        await using var database = await OpenDatabaseAsync();
        await database.WriteBatchAsync(
        [
            ObjectWrite.Upsert(new Auth(user) { Username = user, Password = Password(user) }),
            ObjectWrite.Upsert(new Aor(user) { MaxContacts = 1, RemoveExisting = true, SupportPath = true }),
            ObjectWrite.Upsert(new Endpoint(user) { Auth = [user], Aors = [user], Allow = ["!all", "ulaw"] }),
        ]);
    }

    /// <summary>The holder of a lease in the shared database, or null.</summary>
    public async Task<string?> LeaseHolderAsync(string name)
    {
        await using var connection = new NpgsqlConnection(Options.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT holder FROM public.pjsharp_leases WHERE name = @name", connection);
        command.Parameters.AddWithValue("name", name);
        return await command.ExecuteScalarAsync() as string;
    }

    /// <summary>Kamailio's state of a node: its flags start with A when active, I when inactive (T trying, D disabled).</summary>
    public async Task<string> NodeStateAsync(string node)
    {
        var state = await Script.NodesStateAsync();
        return state.TryGetValue(NodeUri(node), out var flags) ? flags : "";
    }

    /// <summary>Polls Kamailio until the node's state starts with <paramref name="letter"/>; returns how long that took.</summary>
    public async Task<TimeSpan> WaitForNodeStateAsync(string node, char letter, TimeSpan limit)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var last = "";
        while (clock.Elapsed < limit)
        {
            last = await NodeStateAsync(node);
            if (last.Length > 0 && last[0] == letter)
                return clock.Elapsed;
            await Task.Delay(100);
        }
        Assert.Fail($"Kamailio did not mark {node} '{letter}' within {limit.TotalSeconds:0} s (last: '{last}').\n--- kamailio ---\n{Tail(Script.KamailioLog(), 20)}");
        return clock.Elapsed;
    }

    /// <summary>An injection file: <c>user;[authentication ...];expires</c> per user, in order.</summary>
    public string Users(IEnumerable<string> users, int expires)
    {
        var path = Path.Combine(Scratch, $"users-{Guid.NewGuid():N}.csv");
        File.WriteAllLines(path, ["SEQUENTIAL", .. users.Select(u => string.Create(CultureInfo.InvariantCulture,
            $"{u};[authentication username={u} password={Password(u)}];{expires}"))]);
        return path;
    }

    /// <summary>
    /// Registers the users (one REGISTER dialog each, in order) at <paramref name="target"/> with
    /// cluster-register-uac.xml; the users that got 200 ("registered USER") and 503 ("refused USER 503")
    /// are in <see cref="RegisterRun.LogFile"/>, unexpected answers in <see cref="RegisterRun.ErrorFile"/>.
    /// </summary>
    public RegisterRun StartRegistrations(string target, IReadOnlyList<string> users, double rate, int expires = 3600, int? localPort = null,
        string scenario = "cluster-register-uac.xml", IReadOnlyList<string>? extraArguments = null)
    {
        var name = Guid.NewGuid().ToString("N");
        var log = Path.Combine(Scratch, $"register-{name}.log");
        var errors = Path.Combine(Scratch, $"register-{name}.errors");
        var run = SippRunner.Start(new SippOptions
        {
            Scenario = SippRunner.Scenario(scenario),
            Target = target,
            LocalPort = localPort,
            MaxCalls = users.Count,
            Rate = rate,
            Timeout = TimeSpan.FromSeconds(users.Count / rate + 30),
            SocketBufferSize = 1024 * 1024,
            // -nd: a failed registration ends there (no BYE for its dialog).
            ExtraArguments = ["-inf", Users(users, expires), "-nd", "-trace_logs", "-log_file", log, "-trace_err", "-error_file", errors, .. extraArguments ?? []],
        });
        return new RegisterRun(run, users, log, errors);
    }

    public async Task<RegisterOutcome> RegisterAsync(string target, IReadOnlyList<string> users, double rate = 20, int expires = 3600, int? localPort = null)
    {
        await using var run = StartRegistrations(target, users, rate, expires, localPort);
        return await run.CompleteAsync();
    }

    /// <summary>
    /// Registers the users with their first REGISTER at <paramref name="challenger"/> and the one
    /// with credentials at <paramref name="answerer"/> (cluster-register-crossover-uac.xml).
    /// </summary>
    public async Task<RegisterOutcome> RegisterAcrossAsync(string challenger, string answerer, IReadOnlyList<string> users)
    {
        var colon = answerer.LastIndexOf(':');
        await using var run = StartRegistrations(challenger, users, 20, scenario: "cluster-register-crossover-uac.xml",
            extraArguments: ["-key", "other_host", answerer[..colon], "-key", "other_port", answerer[(colon + 1)..]]);
        return await run.CompleteAsync();
    }

    /// <summary>What a node has logged since <paramref name="offset"/> characters.</summary>
    public string NodeLogSince(string node, int offset)
    {
        var text = Script.NodeLog(node);
        return offset < text.Length ? text[offset..] : "";
    }

    public static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Stops everything the script started (by PID), kills what outlived that, deletes the files.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Script.StopAsync();
        }
        catch (Exception error) when (error is InvalidOperationException or TimeoutException)
        {
            await TestContext.Out.WriteLineAsync($"cluster.sh stop failed: {error.Message}");
        }
        Script.KillLeftovers();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    [GeneratedRegex(@"Removed (\d+) expired bindings")]
    public static partial Regex RemovedExpired();
}

/// <summary>A SIPp run registering users; <see cref="CompleteAsync"/> waits for it and reads what it logged.</summary>
internal sealed class RegisterRun(SippRun run, IReadOnlyList<string> users, string logFile, string errorFile) : IAsyncDisposable
{
    public SippRun Sipp { get; } = run;

    public IReadOnlyList<string> Users { get; } = users;

    public string LogFile { get; } = logFile;

    public string ErrorFile { get; } = errorFile;

    public async Task<RegisterOutcome> CompleteAsync()
    {
        var result = await Sipp.Completion;
        return new RegisterOutcome(result, Users, ReadLines(LogFile), File.Exists(ErrorFile) ? await File.ReadAllTextAsync(ErrorFile) : "");
    }

    /// <summary>The users acknowledged so far.</summary>
    public IReadOnlyList<string> RegisteredSoFar() => RegisterOutcome.Registered(ReadLines(LogFile));

    private static string[] ReadLines(string path)
    {
        if (!File.Exists(path))
            return [];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public ValueTask DisposeAsync() => Sipp.DisposeAsync();
}

/// <summary>How a registration run ended: SIPp's statistics, the users acknowledged (200) and refused (503), unexpected messages.</summary>
internal sealed record RegisterOutcome(SippResult Result, IReadOnlyList<string> Users, IReadOnlyList<string> LogLines, string Errors)
{
    public IReadOnlyList<string> RegisteredUsers { get; } = Registered(LogLines);

    public IReadOnlyList<string> RefusedUsers { get; } = [.. LogLines.Where(l => l.StartsWith("refused ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1])];

    /// <summary>Users whose credentials got 401 or 403.</summary>
    public IReadOnlyList<string> RejectedUsers { get; } = [.. LogLines.Where(l => l.StartsWith("rejected ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1])];

    /// <summary>Status lines of unexpected answers, e.g. "SIP/2.0 500 Internal Server Error".</summary>
    public IReadOnlyList<string> UnexpectedStatusLines { get; } =
        [.. System.Text.RegularExpressions.Regex.Matches(Errors, @"SIP/2\.0 [1-6][0-9][0-9][^\r\n']*").Select(m => m.Value.Trim())];

    public static IReadOnlyList<string> Registered(IEnumerable<string> lines) =>
        [.. lines.Where(l => l.StartsWith("registered ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1])];

    public string Describe() =>
        $"{RegisteredUsers.Count} registered, {RefusedUsers.Count} refused (503), {RejectedUsers.Count} rejected (401/403) of {Users.Count}; unexpected: " +
        $"{string.Join(", ", UnexpectedStatusLines.GroupBy(s => s).Select(g => $"{g.Count()} × {g.Key}"))}\n{Result.Describe()}";
}
