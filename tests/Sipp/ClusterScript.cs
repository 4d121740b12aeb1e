using System.Diagnostics;
using System.Globalization;

namespace PjSharp.Testing.Sipp;

/// <summary>What <c>deploy/cluster/cluster.sh</c> starts: addresses, the shared configuration and the run directory.</summary>
public sealed record ClusterOptions
{
    /// <summary>PID files, logs, settings, PostgreSQL's data: everything the cluster writes.</summary>
    public required string RunDirectory { get; init; }

    /// <summary>The pjsip.conf every node reads.</summary>
    public required string ConfigFile { get; init; }

    /// <summary>Kamailio's UDP address.</summary>
    public string Proxy { get; init; } = "127.0.0.10:5060";

    /// <summary>The nodes' UDP addresses; the nodes are named node-a, node-b, ... in this order.</summary>
    public IReadOnlyList<string> Nodes { get; init; } = ["127.0.0.11:5060", "127.0.0.12:5060"];

    /// <summary>The private PostgreSQL instance's TCP address.</summary>
    public string Database { get; init; } = "127.0.0.13:5432";

    /// <summary>Object types kept in PostgreSQL (<c>PjSharp:PostgreSql:Types</c>).</summary>
    public IReadOnlyList<string> Types { get; init; } = ["contact"];

    /// <summary>More arguments for <c>pjsharp serve</c>.</summary>
    public IReadOnlyList<string> ServeArguments { get; init; } = [];

    /// <summary>More arguments for kamailio, e.g. <c>-A PING_INTERVAL=2</c>.</summary>
    public IReadOnlyList<string> KamailioArguments { get; init; } = [];

    /// <summary>Kamailio's UDP worker processes.</summary>
    public int KamailioWorkers { get; init; } = 4;

    /// <summary>The pjsharp executable or pjsharp.dll; null lets the script find the build output.</summary>
    public string? Server { get; init; }

    /// <summary>Environment variables for the script and what it starts (e.g. <c>PJSHARP__PjSharp__...</c>).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>The nodes' names, in the order of <see cref="Nodes"/>.</summary>
    public IReadOnlyList<string> NodeNames => [.. Nodes.Select((_, i) => "node-" + (char)('a' + i))];

    /// <summary>The connection string of the shared database (the role and database the script creates).</summary>
    public string ConnectionString
    {
        get
        {
            var colon = Database.LastIndexOf(':');
            return $"Host={Database[..colon]};Port={Database[(colon + 1)..]};Username=pjsharp;Password=pjsharp;Database=pjsharp;Timeout=5;Command Timeout=10";
        }
    }
}

/// <summary>
/// Drives <c>deploy/cluster/cluster.sh</c>: PostgreSQL, the pjsharp nodes and Kamailio on loopback.
/// Every command runs the script itself, so tests and benchmarks exercise what users run.
/// </summary>
public sealed class ClusterScript
{
    /// <summary>Path of cluster.sh, overriding the search above this assembly.</summary>
    public const string EnvironmentVariable = "PJSHARP_CLUSTER_SCRIPT";

    public ClusterScript(ClusterOptions options, string? script = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Script = script ?? Locate() ?? throw new InvalidOperationException(MissingMessage);
    }

    public ClusterOptions Options { get; }

    public string Script { get; }

    public string RunDirectory => Options.RunDirectory;

    public static string MissingMessage =>
        $"deploy/cluster/cluster.sh was not found above {AppContext.BaseDirectory}; set {EnvironmentVariable} to its path.";

    /// <summary>Env PJSHARP_CLUSTER_SCRIPT, else deploy/cluster/cluster.sh in a folder above this assembly; null when none.</summary>
    public static string? Locate()
    {
        var configured = System.Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(configured))
            return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "deploy", "cluster", "cluster.sh");
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>The path the script should run the server from, for a <see cref="ServerLaunch"/> found by <see cref="PjSharpServer.Locate"/>.</summary>
    public static string ServerPath(ServerLaunch launch)
    {
        ArgumentNullException.ThrowIfNull(launch);
        return launch.PrefixArguments.Count > 0 ? launch.PrefixArguments[0] : launch.FileName;
    }

    /// <summary>Runs <c>cluster.sh &lt;arguments&gt;</c>; throws with its output when it fails or outlives <paramref name="timeout"/>.</summary>
    public async Task<string> RunAsync(TimeSpan timeout, params string[] arguments)
    {
        var info = ProcessTools.StartInfo("bash", [Script, .. arguments]);
        info.Environment["PJSHARP_CLUSTER_DIR"] = Options.RunDirectory;
        info.Environment["PJSHARP_CLUSTER_CONFIG"] = Options.ConfigFile;
        info.Environment["PJSHARP_CLUSTER_PROXY"] = Options.Proxy;
        info.Environment["PJSHARP_CLUSTER_NODES"] = string.Join(' ', Options.Nodes);
        info.Environment["PJSHARP_CLUSTER_DB"] = Options.Database;
        info.Environment["PJSHARP_CLUSTER_TYPES"] = string.Join(',', Options.Types);
        info.Environment["PJSHARP_CLUSTER_SERVE_ARGS"] = string.Join(' ', Options.ServeArguments);
        info.Environment["PJSHARP_CLUSTER_KAMAILIO_ARGS"] = string.Join(' ', Options.KamailioArguments);
        info.Environment["PJSHARP_CLUSTER_WORKERS"] = Options.KamailioWorkers.ToString(CultureInfo.InvariantCulture);
        if (Options.Server != null)
            info.Environment["PJSHARP_SERVER"] = Options.Server;
        foreach (var (name, value) in Options.Environment)
            info.Environment[name] = value;

        using var process = new Process { StartInfo = info };
        var output = new OutputTail(400);
        process.OutputDataReceived += (_, e) => { if (e.Data != null) output.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) output.Add(e.Data); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using (var limit = new CancellationTokenSource(timeout))
        {
            try
            {
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                ProcessTools.KillQuietly(process);
                await process.WaitForExitAsync().ConfigureAwait(false);
                throw new TimeoutException($"cluster.sh {string.Join(' ', arguments)} took more than {timeout.TotalSeconds:0} s\n{output}");
            }
        }
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"cluster.sh {string.Join(' ', arguments)} failed (exit {process.ExitCode})\n{output}");
        return output.Text();
    }

    public Task<string> RunAsync(params string[] arguments) => RunAsync(TimeSpan.FromSeconds(120), arguments);

    public Task<string> StartAsync() => RunAsync(TimeSpan.FromSeconds(180), "start");

    public Task<string> StopAsync() => RunAsync(TimeSpan.FromSeconds(90), "stop");

    /// <summary>Kamailio's view of the nodes: URI (<c>sip:127.0.0.11:5060</c>) to flags (<c>AP</c> active, <c>IP</c> inactive).</summary>
    public async Task<IReadOnlyDictionary<string, string>> NodesStateAsync()
    {
        var text = await RunAsync(TimeSpan.FromSeconds(20), "nodes-state").ConfigureAwait(false);
        var state = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 2 && words[0].StartsWith("sip:", StringComparison.Ordinal))
                state[words[0]] = words[1];
        }
        return state;
    }

    /// <summary>PIDs of the components now running (<c>postgres</c>, <c>node-a</c>, ..., <c>kamailio</c>), from the run directory's PID files.</summary>
    public IReadOnlyDictionary<string, int> Pids()
    {
        var pids = new Dictionary<string, int>(StringComparer.Ordinal);
        var directory = Path.Combine(Options.RunDirectory, "pids");
        if (!Directory.Exists(directory))
            return pids;
        foreach (var file in Directory.GetFiles(directory, "*.pid"))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && IsOurs(name, pid))
                pids[name] = pid;
        }
        return pids;
    }

    /// <summary>A node's output so far (its log file accumulates across restarts).</summary>
    public string NodeLog(string node) => ReadShared(Path.Combine(Options.RunDirectory, node, "node.log"));

    public string KamailioLog() => ReadShared(Path.Combine(Options.RunDirectory, "kamailio", "kamailio.log"));

    public string PostgresLog() => ReadShared(Path.Combine(Options.RunDirectory, "pg", "postgres.log"));

    /// <summary>
    /// Last resort after a failed stop: SIGKILL every process still recorded in a PID file (and its
    /// children), each checked to still run what the script started.
    /// </summary>
    public void KillLeftovers()
    {
        foreach (var (_, pid) in Pids())
        {
            var children = ProcessCpu.Children(pid);
            Kill(pid);
            foreach (var child in children)
                Kill(child);
        }
    }

    private bool IsOurs(string name, int pid)
    {
        var marker = name switch
        {
            "postgres" => Path.Combine(Options.RunDirectory, "pg", "data"),
            "kamailio" => Path.Combine(Options.RunDirectory, "kamailio", "ctl"),
            _ => Path.Combine(Options.RunDirectory, name, "settings.json"),
        };
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Contains(marker, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill(entireProcessTree: false);
        }
        catch (ArgumentException)
        {
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    private static string ReadShared(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }
}

/// <summary>CPU time of processes from /proc (Linux), children included.</summary>
public static class ProcessCpu
{
    // /proc reports clock ticks of USER_HZ, which the Linux ABI fixes at 100 per second.
    private const double TicksPerSecond = 100;

    /// <summary>
    /// User + system time of the process, plus that of its children: the live ones (Kamailio's
    /// workers, PostgreSQL's backends) and, through cutime/cstime, those that exited and were reaped.
    /// </summary>
    public static TimeSpan WithChildren(int pid)
    {
        var total = Read(pid, includeReaped: true);
        foreach (var child in Children(pid))
            total += Read(child, includeReaped: true);
        return total;
    }

    /// <summary>User + system time of the process itself (all its threads).</summary>
    public static TimeSpan Own(int pid) => Read(pid, includeReaped: false);

    /// <summary>The PIDs whose parent is <paramref name="pid"/>.</summary>
    public static IReadOnlyList<int> Children(int pid)
    {
        var children = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var candidate))
                continue;
            var fields = StatFields(candidate);
            if (fields != null && fields.Length > 1 && fields[1] == pid.ToString(CultureInfo.InvariantCulture))
                children.Add(candidate);
        }
        return children;
    }

    private static TimeSpan Read(int pid, bool includeReaped)
    {
        var fields = StatFields(pid);
        if (fields == null || fields.Length < 15)
            return TimeSpan.Zero;
        // After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        if (includeReaped)
            ticks += long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    // The fields after "(comm)", which may itself hold spaces and parentheses.
    private static string[]? StatFields(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var close = text.LastIndexOf(')');
            return close < 0 ? null : text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
