using System.Globalization;
using System.Text;
using PjSharp.Testing.Sipp;

namespace PjSharp.Benchmarks.Sip;

/// <summary>
/// REGISTER with digest authentication through Kamailio to one and to two <c>pjsharp serve</c> nodes
/// sharing a PostgreSQL database (deploy/cluster/cluster.sh on loopback), at climbing rates. Every
/// user registers once before the ladder, so the steps measure refreshes: each an update of a contact
/// row in PostgreSQL, committed before its 200, and announced to the other node. Per step it prints
/// the CPU each component spent per registration (Kamailio's processes, each node, PostgreSQL's
/// server processes, all from /proc), from which the capacity of bigger machines can be worked out.
/// </summary>
public static class ClusterRegister
{
    private const string Usage = """
        usage: cluster-register [options]
          --nodes LIST       node counts to measure, e.g. 1,2 (default 1,2)
          --start N          first rate, registrations/s (default 250)
          --step N           rate increment (default 250)
          --max N            last rate (default 5000)
          --seconds N        length of each step (default 10)
          --users N          users, each registered once before the ladder (default 10000)
          --warmup-rate N    rate of those first registrations (default 500)
          --workers N        pjsip workers per node (default: one per CPU)
          --kamailio-workers N  Kamailio's UDP worker processes (default 4)
          --retries N        reruns of an unclean step before the ladder stops (default 1)
        Needs kamailio, PostgreSQL's server binaries and SIPp; runs the cluster on 127.0.0.10-13.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args.SkipWhile(a => a == "cluster-register").ToArray());
        }
        catch (FormatException error)
        {
            await Console.Error.WriteLineAsync($"cluster-register: {error.Message}\n{Usage}");
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }
        if (!SippRunner.IsAvailable)
        {
            await Console.Error.WriteLineAsync($"cluster-register: {SippRunner.MissingMessage}");
            return 1;
        }
        var launch = PjSharpServer.Locate("release");
        if (launch == null)
        {
            await Console.Error.WriteLineAsync($"cluster-register: {PjSharpServer.MissingMessage}");
            return 1;
        }
        if (ClusterScript.Locate() == null)
        {
            await Console.Error.WriteLineAsync($"cluster-register: {ClusterScript.MissingMessage}");
            return 1;
        }

        var root = Directory.CreateTempSubdirectory("pjsharp-cluster-register-").FullName;
        // PostgreSQL runs as the postgres user when we are root: it must reach its data directory inside.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        try
        {
            var users = Enumerable.Range(0, options.Users).Select(i => string.Create(CultureInfo.InvariantCulture, $"u{i:D6}")).ToArray();
            var config = Path.Combine(root, "pjsip.conf");
            await File.WriteAllTextAsync(config, Configuration(users));
            var injection = Path.Combine(root, "users.csv");
            await File.WriteAllLinesAsync(injection, ["SEQUENTIAL", .. users.Select(u => $"{u};[authentication username={u} password=pw-{u}];3600")]);

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cluster-register: {options.Users} users, digest MD5, refreshes (each user registered once before the ladder), {options.Seconds} s per step; " +
                $"{Environment.ProcessorCount} CPUs shared by SIPp, Kamailio ({options.KamailioWorkers} UDP workers), the nodes and PostgreSQL; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
            var summaries = new List<string>();
            var worst = 0;
            foreach (var count in options.NodeCounts)
            {
                var (summary, exit) = await RunTopologyAsync(launch, root, config, injection, count, options);
                summaries.Add(summary);
                worst = Math.Max(worst, exit);
            }
            Console.WriteLine();
            foreach (var summary in summaries)
                Console.WriteLine(summary);
            return worst;
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static async Task<(string Summary, int Exit)> RunTopologyAsync(ServerLaunch launch, string root, string config, string injection, int nodes, Options options)
    {
        var serveArguments = new List<string> { "--log-level", "Warning" };
        if (options.Workers is int workers)
            serveArguments.AddRange(["--workers", workers.ToString(CultureInfo.InvariantCulture)]);
        var cluster = new ClusterScript(new ClusterOptions
        {
            RunDirectory = Path.Combine(root, $"run-{nodes}"),
            ConfigFile = config,
            Nodes = [.. new[] { "127.0.0.11:5060", "127.0.0.12:5060", "127.0.0.14:5060", "127.0.0.15:5060" }.Take(nodes)],
            Server = ClusterScript.ServerPath(launch),
            ServeArguments = serveArguments,
            KamailioWorkers = options.KamailioWorkers,
        });
        var title = nodes == 1 ? "1 node" : $"{nodes} nodes";
        Console.WriteLine();
        Console.WriteLine($"== {title} behind Kamailio ==");
        try
        {
            await cluster.StartAsync();
            var pids = cluster.Pids();
            var components = new List<(string Name, Func<TimeSpan> Cpu)>
            {
                ("kamailio", () => ProcessCpu.WithChildren(pids["kamailio"])),
            };
            foreach (var node in cluster.Options.NodeNames)
                components.Add((node, () => ProcessCpu.Own(pids[node])));
            components.Add(("postgres", () => ProcessCpu.WithChildren(pids["postgres"])));

            // Every user once: the ladder then measures refreshes of existing bindings.
            var warmup = await RegisterAsync(injection, options.Users, options.WarmupRate, options);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"first registration of every user: {warmup.Successful}/{warmup.Expected} in {warmup.WallTime.TotalSeconds:0.0} s ({warmup.AchievedRate:0}/s)"));

            var header = new StringBuilder("   rate/s   calls      ok    lost  retrans  achieved/s  µs per registration:");
            foreach (var (name, _) in components)
                header.Append(CultureInfo.InvariantCulture, $" {name,9}");
            header.Append("     total  verdict");
            Console.WriteLine(header);

            Step? best = null;
            for (var rate = options.Start; rate <= options.Max; rate += options.Step)
            {
                Step? step = null;
                for (var attempt = 0; attempt <= options.Retries; attempt++)
                {
                    var before = components.Select(c => c.Cpu()).ToArray();
                    var result = await RegisterAsync(injection, rate * options.Seconds, rate, options);
                    var after = components.Select(c => c.Cpu()).ToArray();
                    step = new Step(rate, result, [.. components.Select((c, i) => (c.Name, after[i] - before[i]))]);
                    Console.WriteLine(step.Format(step.Clean ? "clean" : attempt < options.Retries ? "unclean, retrying" : "UNCLEAN"));
                    if (step.Clean)
                        break;
                }
                if (step is not { Clean: true })
                    break;
                best = step;
            }
            if (best == null)
                return ($"{title}: no clean step", 1);
            var parts = string.Join(", ", best.Cpu.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Name} {best.PerRegistration(c.Cpu):0} µs")));
            return (string.Create(CultureInfo.InvariantCulture,
                $"{title}: highest clean rate {best.Rate} registrations/s; CPU per registration there: {parts}; total {best.PerRegistration(best.Total):0} µs"), 0);
        }
        finally
        {
            try
            {
                await cluster.StopAsync();
            }
            catch (Exception error) when (error is InvalidOperationException or TimeoutException)
            {
                await Console.Error.WriteLineAsync($"cluster-register: stopping the cluster failed: {error.Message}");
            }
            cluster.KillLeftovers();
        }
    }

    private static Task<SippResult> RegisterAsync(string injection, int calls, int rate, Options options) =>
        SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("cluster-register-uac.xml"),
            Target = "127.0.0.10:5060",
            MaxCalls = calls,
            Rate = rate,
            Timeout = TimeSpan.FromSeconds(calls / (double)rate * 3 + 20),
            ReceiveTimeout = TimeSpan.FromSeconds(5),
            SocketBufferSize = 4 * 1024 * 1024,
            ExtraArguments = ["-inf", injection, "-nd"],
        });

    /// <summary>One endpoint, auth (password pw-USER) and AOR keeping Path per user.</summary>
    private static string Configuration(IEnumerable<string> users) => RegisterLadder.Configuration(users, "support_path=yes");

    private sealed record Step(int Rate, SippResult Result, IReadOnlyList<(string Name, TimeSpan Cpu)> Cpu)
    {
        public bool Clean => Result.Clean && Result.AchievedRate >= Rate * LadderStep.RateTolerance;

        public TimeSpan Total => Cpu.Aggregate(TimeSpan.Zero, (sum, c) => sum + c.Cpu);

        public double PerRegistration(TimeSpan cpu) => Result.Successful > 0 ? cpu.TotalMicroseconds / Result.Successful : 0;

        public string Format(string verdict)
        {
            var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
                $"{Rate,9} {Result.Expected,7} {Result.Successful,7} {Result.Lost,7} {Result.Retransmissions,8} {Result.AchievedRate,11:0.0}                     "));
            foreach (var (_, cpu) in Cpu)
                line.Append(CultureInfo.InvariantCulture, $" {PerRegistration(cpu),9:0}");
            line.Append(CultureInfo.InvariantCulture, $" {PerRegistration(Total),9:0}  {verdict}");
            return line.ToString();
        }
    }

    private sealed record Options(IReadOnlyList<int> NodeCounts, int Start, int Step, int Max, int Seconds, int Users, int WarmupRate, int? Workers, int KamailioWorkers, int Retries, bool Help)
    {
        public static Options Parse(string[] args)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            var help = false;
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] is "-h" or "--help")
                {
                    help = true;
                    continue;
                }
                var arg = args[i];
                var equals = arg.IndexOf('=', StringComparison.Ordinal);
                if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 2)
                    values[arg[2..equals]] = arg[(equals + 1)..];
                else if (arg.StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
                    values[arg[2..]] = args[++i];
                else
                    throw new FormatException($"unknown argument {arg}");
            }
            var known = new HashSet<string>(["nodes", "start", "step", "max", "seconds", "users", "warmup-rate", "workers", "kamailio-workers", "retries"], StringComparer.Ordinal);
            if (values.Keys.FirstOrDefault(k => !known.Contains(k)) is { } unknown)
                throw new FormatException($"unknown option --{unknown}");
            int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? LadderSettings.NonNegative("--" + name, v) : fallback;
            var nodes = values.TryGetValue("nodes", out var list)
                ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => LadderSettings.Positive("--nodes", n)).ToArray()
                : [1, 2];
            if (nodes.Any(n => n > 4))
                throw new FormatException("--nodes: at most 4 nodes (127.0.0.11, .12, .14, .15)");
            return new Options(nodes, Int("start", 250), Math.Max(1, Int("step", 250)), Int("max", 5000), Math.Max(1, Int("seconds", 10)),
                Math.Max(1, Int("users", 10_000)), Math.Max(1, Int("warmup-rate", 500)), values.ContainsKey("workers") ? Int("workers", 0) : null, Math.Max(1, Int("kamailio-workers", 4)),
                Int("retries", 1), help);
        }
    }
}
