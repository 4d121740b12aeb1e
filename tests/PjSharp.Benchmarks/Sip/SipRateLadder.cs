using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using PjSharp.Testing.Sipp;

namespace PjSharp.Benchmarks.Sip;

/// <summary>
/// The SIP rate ladder: SIPp sends OPTIONS at fixed rates that climb step by step, against pjsharp and
/// (with env PJSIP_PERF) against pjsip-perf answering statefully, server on one core and SIPp on
/// another. A step is clean when nothing failed and nothing was retransmitted; a target's ladder stops
/// at its first unclean step (after a retry). The targets climb together, rate by rate, so a busy
/// machine disturbs them alike, and each step runs on a fresh server so no step inherits another's
/// transactions. Prints a table per target, the highest clean rates and their ratio.
/// </summary>
public static class SipRateLadder
{
    public const string PjsipPerfVariable = "PJSIP_PERF";

    /// <summary>The project's goal: pjsharp sustains at least this share of raw pjsip's clean rate.</summary>
    public const double TargetRatio = 0.85;

    /// <summary>A step counts only when the achieved rate is within 3% of the offered one.</summary>
    public const double RateTolerance = 0.97;

    private const string PjSharpName = "pjsharp";
    private const string PjsipPerfName = "pjsip-perf";

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Settings settings;
        try
        {
            settings = Settings.Parse(args.SkipWhile(a => a == "sip-ladder").ToArray());
        }
        catch (FormatException error)
        {
            await Console.Error.WriteLineAsync($"sip-ladder: {error.Message}\n\n{Settings.Usage}");
            return 2;
        }
        if (settings.Help)
        {
            Console.WriteLine(Settings.Usage);
            return 0;
        }
        if (!SippRunner.IsAvailable)
        {
            await Console.Error.WriteLineAsync($"sip-ladder: {SippRunner.MissingMessage}");
            return 1;
        }

        var targets = ResolveTargets(settings);
        PrintHeader(settings, targets);
        var runnable = targets.Where(t => t.Options != null).ToList();
        if (runnable.Count == 0)
        {
            Console.WriteLine("sip-ladder: nothing to measure.");
            return 1;
        }

        var clock = Stopwatch.StartNew();
        var outcomes = await RunLadderAsync(runnable, settings, clock);
        foreach (var outcome in outcomes)
            PrintTable(outcome);
        PrintSummary(outcomes, clock.Elapsed);
        return outcomes.Any(o => o.Steps.Count > 0) ? 0 : 1;
    }

    private static List<Target> ResolveTargets(Settings settings)
    {
        var targets = new List<Target>();
        if (settings.Targets.Contains(PjSharpName))
        {
            var launch = settings.PjSharpPath != null
                ? LaunchFromPath(settings.PjSharpPath)
                : PjSharpServer.Locate("release");
            if (launch == null)
            {
                targets.Add(new Target(PjSharpName, $"not found ({PjSharpServer.MissingMessage})", null, ""));
            }
            else
            {
                var options = launch.Serve(["--transport", "udp:127.0.0.1:0", "--db", Path.Combine(Path.GetTempPath(), "pjsharp-sip-ladder.db"), "--workers", settings.Workers.ToString(CultureInfo.InvariantCulture), .. settings.PjSharpArguments], settings.ServerCpu)
                    with { ReadyTimeout = TimeSpan.FromSeconds(60) };
                targets.Add(new Target(PjSharpName, $"{launch.Description}, --workers {settings.Workers}, OPTIONS answered statefully", options, "pjsharp"));
            }
        }
        if (settings.Targets.Contains(PjsipPerfName))
        {
            var path = settings.PjsipPerfPath ?? Environment.GetEnvironmentVariable(PjsipPerfVariable);
            if (string.IsNullOrEmpty(path) || !File.Exists(path))
            {
                targets.Add(new Target(PjsipPerfName, string.IsNullOrEmpty(path)
                    ? $"not measured (set {PjsipPerfVariable} to the pjsip-perf binary)"
                    : $"not found at {path}", null, ""));
            }
            else
            {
                var options = new ServerProcessOptions
                {
                    FileName = path,
                    Arguments = ["-p", "0", $"--thread-count={settings.Workers}"],
                    DisplayName = PjsipPerfName,
                    CpuList = settings.ServerCpu,
                    ReadyTimeout = TimeSpan.FromSeconds(20),
                    // It prints its URIs, then flushes "Press <ENTER> to quit" and reads stdin.
                    IsReadyLine = static line => line.Contains("Press <ENTER> to quit", StringComparison.Ordinal),
                    ParseListening = ParsePjsipPerfLine,
                };
                // User part "1" selects its stateful module (pjsip-perf.c, mod_stateful_server).
                targets.Add(new Target(PjsipPerfName, $"{path}, --thread-count={settings.Workers}, sip:1@ (stateful)", options, "1"));
            }
        }
        return targets;
    }

    /// <summary>
    /// Climbs the ladder for all targets together: at each rate every target still climbing takes its
    /// step (the first target alternates), so background load on a shared machine hits them alike.
    /// Unless --keep-running, every step runs on a freshly started, warmed-up server: a UDP server
    /// transaction lives 32 s after its answer (timer J), and the expiry of an earlier step's
    /// transactions on the shared server core would otherwise load whichever step runs next.
    /// </summary>
    private static async Task<List<TargetOutcome>> RunLadderAsync(List<Target> targets, Settings settings, Stopwatch clock)
    {
        var outcomes = targets.Select(t => new TargetOutcome(t)).ToList();
        try
        {
            foreach (var outcome in outcomes)
            {
                if (await StartAsync(outcome, settings) && !settings.KeepRunning)
                    await StopServerAsync(outcome);
            }

            Console.WriteLine();
            Console.WriteLine($"   {"target",-10} {"rate/s",7} {"calls",7} {"ok",7} {"failed",7} {"retrans",7} {"achieved/s",10} {"srv CPU",8} {"CPU us/call",11}  result");
            var round = 0;
            for (var rate = settings.Start; rate <= settings.Max; rate += settings.Step, round++)
            {
                var climbing = outcomes.Where(o => o.StopReason == null).ToList();
                if (climbing.Count == 0)
                    break;
                // A round runs for every climbing target or for none, so the budget cuts them at the same rate.
                if (clock.Elapsed + StepCost(settings) * climbing.Count > settings.Budget)
                {
                    foreach (var outcome in climbing)
                    {
                        outcome.StopReason = $"time budget ({settings.Budget.TotalSeconds:0} s) reached before {rate}/s";
                        await StopServerAsync(outcome);
                    }
                    break;
                }
                if (round % 2 == 1)
                    climbing.Reverse();
                foreach (var outcome in climbing)
                {
                    await ClimbAsync(outcome, settings, rate, clock);
                    if (outcome.StopReason != null)
                        await StopServerAsync(outcome);
                }
                await Task.Delay(settings.Pause);
            }
            foreach (var outcome in outcomes.Where(o => o.StopReason == null))
            {
                outcome.StopReason = $"top of the ladder ({settings.Max}/s) reached";
                await StopServerAsync(outcome);
            }
        }
        finally
        {
            foreach (var outcome in outcomes.Where(o => o.Server != null))
                outcome.Server!.Dispose();
        }
        return outcomes;
    }

    /// <summary>Starts the target's server and warms it up; the first start prints where it runs.</summary>
    private static async Task<bool> StartAsync(TargetOutcome outcome, Settings settings)
    {
        var target = outcome.Target;
        var first = outcome.Starts++ == 0;
        if (first)
        {
            Console.WriteLine();
            Console.WriteLine($"== {target.Name}: {target.Description}");
        }
        try
        {
            outcome.Server = await ServerProcess.StartAsync(target.Options!);
            outcome.Endpoint = outcome.Server.Endpoint("udp");
        }
        catch (InvalidOperationException error)
        {
            outcome.StopReason = "server did not start";
            Console.WriteLine($"   {target.Name} could not start: {error.Message}");
            await StopServerAsync(outcome);
            return false;
        }
        var server = outcome.Server;
        if (first)
            Console.WriteLine($"   pid {server.Pid}, UDP {outcome.Endpoint.HostPort}, server CPUs {(server.Pinned ? settings.ServerCpu : "unpinned")}, SIPp CPUs {settings.ClientCpu ?? "unpinned"}, load {LoadAverage()}");
        if (settings.WarmupSeconds > 0)
        {
            var warm = await SippRunner.RunAsync(StepOptions(settings, outcome.Endpoint, target.Service, settings.Start, settings.WarmupSeconds));
            if (first)
                Console.WriteLine($"   warm-up {settings.Start}/s for {settings.WarmupSeconds} s{(settings.KeepRunning ? "" : " before every step")}: {warm}");
            outcome.CallsServed += warm.Successful;
        }
        return true;
    }

    /// <summary>One rung for one target: the step, retried when unclean; sets StopReason when the climb ends here.</summary>
    private static async Task ClimbAsync(TargetOutcome outcome, Settings settings, int rate, Stopwatch clock)
    {
        for (var attempt = 0; attempt <= settings.Retries; attempt++)
        {
            if (clock.Elapsed + StepCost(settings) > settings.Budget)
            {
                outcome.StopReason = $"time budget ({settings.Budget.TotalSeconds:0} s) reached before {rate}/s";
                return;
            }
            if (outcome.Server == null && !await StartAsync(outcome, settings))
                return;
            var server = outcome.Server!;
            var step = await RunStepAsync(server, settings, outcome.Endpoint!, outcome.Target.Service, rate);
            var last = step.Clean || attempt == settings.Retries || server.HasExited;
            step.Verdict = last ? (step.Clean ? "clean" : "UNCLEAN") : "unclean, retrying";
            outcome.Steps.Add(step);
            outcome.CallsServed += step.Result.Successful;
            Console.WriteLine($"   {outcome.Target.Name,-10} {FormatStep(step)}");
            if (server.HasExited)
            {
                outcome.StopReason = $"server exited (code {server.ExitCode})";
                Console.WriteLine(server.OutputTail(20));
                return;
            }
            if (!settings.KeepRunning)
                await StopServerAsync(outcome);
            if (step.Clean)
            {
                outcome.HighestClean = rate;
                return;
            }
            if (last)
            {
                outcome.StopReason = $"first unclean step at {rate}/s";
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Stops the target's server, if running, and collects what its stop reports.</summary>
    private static async Task StopServerAsync(TargetOutcome outcome)
    {
        if (outcome.Server is not { } server)
            return;
        outcome.Server = null;
        try
        {
            var stop = await server.StopAsync(TimeSpan.FromSeconds(5));
            // pjsip-perf has no SIGTERM handler (it dies with 143); only pjsharp's graceful stop is worth a note.
            if (outcome.Target.Name == PjSharpName && (!stop.ExitedInTime || stop.ExitCode != 0))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   note: pjsharp after SIGTERM: exit {stop.ExitCode} after {stop.Elapsed.TotalSeconds:0.0} s{(stop.ExitedInTime ? "" : " (killed: not out within 5 s)")}"));
            }
            if (outcome.Target.Name == PjSharpName && ParseWorkerAllocations(server.OutputTail(40)) is { } bytes)
                outcome.WorkerAllocatedBytes = (outcome.WorkerAllocatedBytes ?? 0) + bytes;
        }
        finally
        {
            server.Dispose();
        }
    }

    private static long? ParseWorkerAllocations(string output)
    {
        var match = Regex.Match(output, @"worker threads allocated (\d+) managed bytes");
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    private static async Task<StepOutcome> RunStepAsync(ServerProcess server, Settings settings, ListeningEndpoint endpoint, string service, int rate)
    {
        var cpuBefore = server.ProcessorTime;
        var result = await SippRunner.RunAsync(StepOptions(settings, endpoint, service, rate, settings.Seconds));
        var cpu = server.ProcessorTime - cpuBefore;
        return new StepOutcome(rate, result, cpu);
    }

    private static SippOptions StepOptions(Settings settings, ListeningEndpoint endpoint, string service, int rate, int seconds) => new()
    {
        Scenario = SippRunner.Scenario("options-uac.xml"),
        Target = endpoint.HostPort,
        Transport = SippTransport.Udp,
        Service = service,
        MaxCalls = rate * seconds,
        Rate = rate,
        Timeout = TimeSpan.FromSeconds(seconds * 2 + 10),
        ReceiveTimeout = TimeSpan.FromSeconds(5),
        // Same as pjsip's own UDP buffers here, so SIPp is not the one dropping.
        SocketBufferSize = 4 * 1024 * 1024,
        CpuList = settings.ClientCpu,
    };

    // A fresh server costs its start (about a second for pjsharp) and its warm-up.
    private static TimeSpan StepCost(Settings settings) =>
        TimeSpan.FromSeconds(settings.Seconds + 2 + (settings.KeepRunning ? 0 : 1 + settings.WarmupSeconds));

    private static string FormatStep(StepOutcome step)
    {
        var r = step.Result;
        var wall = r.Statistics?.Elapsed ?? r.WallTime;
        var cpuShare = wall > TimeSpan.Zero ? step.ServerCpu / wall : 0;
        var perCall = r.Successful > 0 ? step.ServerCpu.TotalMicroseconds / r.Successful : 0;
        var note = r.Statistics == null ? $" (no statistics; exit {r.ExitCode}: {FirstLine(r.Output)})" : "";
        if (r.Statistics != null && r.AchievedRate < step.Rate * RateTolerance)
            note += " (more than 3% below the offered rate)";
        return string.Create(CultureInfo.InvariantCulture,
            $"{step.Rate,7} {r.Expected,7} {r.Successful,7} {r.Lost,7} {r.Retransmissions,7} {r.AchievedRate,10:0.0} {cpuShare,7:P0} {perCall,11:0.0}  {step.Verdict}{note}");
    }

    private static void PrintTable(TargetOutcome outcome)
    {
        Console.WriteLine();
        Console.WriteLine($"== {outcome.Target.Name}: {outcome.Target.Description}");
        if (outcome.Steps.Count == 0)
        {
            Console.WriteLine($"   no step ran ({outcome.StopReason})");
            return;
        }
        Console.WriteLine($"   {"rate/s",7} {"calls",7} {"ok",7} {"failed",7} {"retrans",7} {"achieved/s",10} {"srv CPU",8} {"CPU us/call",11}  result");
        foreach (var step in outcome.Steps)
            Console.WriteLine($"   {FormatStep(step)}");
        Console.WriteLine($"   highest clean rate: {outcome.HighestClean}/s ({outcome.StopReason})");
    }

    private static void PrintHeader(Settings settings, List<Target> targets)
    {
        Console.WriteLine("SIP rate ladder: OPTIONS over UDP on loopback, fixed-rate steps, SIPp as the client.");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"steps {settings.Start}..{settings.Max}/s by {settings.Step}, {settings.Seconds} s each, {settings.Retries} retry per unclean step, budget {settings.Budget.TotalSeconds:0} s"));
        Console.WriteLine($"{SippRunner.Version}; {Environment.ProcessorCount} CPUs; load {LoadAverage()}");
        Console.WriteLine("clean = every call answered 200 with no failure and no retransmission; the targets climb together, rate by rate");
        foreach (var target in targets.Where(t => t.Options == null))
            Console.WriteLine($"{target.Name}: {target.Description}");
    }

    private static void PrintSummary(List<TargetOutcome> outcomes, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"== summary ({elapsed.TotalSeconds:0} s)"));
        foreach (var outcome in outcomes)
        {
            var cost = outcome.Steps.Where(s => s.Clean).Select(s => s.Result.Successful > 0 ? s.ServerCpu.TotalMicroseconds / s.Result.Successful : 0).DefaultIfEmpty().Min();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {outcome.Target.Name,-10} highest clean rate {outcome.HighestClean,6}/s  best server CPU per call {cost,6:0.0} us  ({outcome.StopReason})"));
            if (outcome.WorkerAllocatedBytes is { } bytes)
            {
                var calls = outcome.CallsServed;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {outcome.Target.Name,-10} worker threads allocated {bytes} managed bytes over {calls} calls: {(calls > 0 ? (double)bytes / calls : 0):0.00} bytes per call (warm-up and start-up included)"));
            }
        }
        var pjsharp = outcomes.FirstOrDefault(o => o.Target.Name == PjSharpName);
        var reference = outcomes.FirstOrDefault(o => o.Target.Name == PjsipPerfName);
        if (pjsharp != null && reference is { HighestClean: > 0 })
        {
            var ratio = (double)pjsharp.HighestClean / reference.HighestClean;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   pjsharp / pjsip-perf = {ratio:P0} (goal >= {TargetRatio:P0}): {(ratio >= TargetRatio ? "met" : "NOT met")}"));
        }
        else
        {
            Console.WriteLine("   pjsharp / pjsip-perf: not available (both targets need a clean step)");
        }
    }

    private static ListeningEndpoint? ParsePjsipPerfLine(string line)
    {
        // "  sip:1@192.0.2.2:59380    for stateful handling": it binds 0.0.0.0, so loopback reaches it.
        var at = line.IndexOf("sip:1@", StringComparison.Ordinal);
        if (at < 0 || !line.Contains("stateful handling", StringComparison.Ordinal))
            return null;
        var hostPort = line[(at + 6)..].Split([' ', ';', '\t'], StringSplitOptions.RemoveEmptyEntries)[0];
        var colon = hostPort.LastIndexOf(':');
        return colon > 0 && int.TryParse(hostPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            ? new ListeningEndpoint("udp", new IPEndPoint(IPAddress.Loopback, port))
            : null;
    }

    private static ServerLaunch? LaunchFromPath(string path)
    {
        if (!File.Exists(path))
            return null;
        var full = Path.GetFullPath(path);
        return full.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            ? new ServerLaunch(ProcessTools.DotnetHost(), [full], $"dotnet {full}")
            : new ServerLaunch(full, [], full);
    }

    private static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', parts.Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static string FirstLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";

    private sealed record Target(string Name, string Description, ServerProcessOptions? Options, string Service);

    private sealed record StepOutcome(int Rate, SippResult Result, TimeSpan ServerCpu)
    {
        /// <summary>Nothing failed or was retransmitted, and SIPp kept within 3% of the offered rate (a saturated server slows it down).</summary>
        public bool Clean => Result.Clean && Result.AchievedRate >= Rate * RateTolerance;

        public string Verdict { get; set; } = "";
    }

    private sealed class TargetOutcome(Target target)
    {
        public Target Target { get; } = target;

        public ServerProcess? Server { get; set; }

        public ListeningEndpoint? Endpoint { get; set; }

        public int Starts { get; set; }

        public List<StepOutcome> Steps { get; } = [];

        public int HighestClean { get; set; }

        public string? StopReason { get; set; }

        /// <summary>Managed bytes pjsharp's workers allocated over the whole run, from its stop log line.</summary>
        public long? WorkerAllocatedBytes { get; set; }

        public long CallsServed { get; set; }
    }

    private sealed class Settings
    {
        public const string Usage = """
            usage: sip-ladder [options]
              --start N        first rate, calls/s (default 1000)
              --step N         rate increment (default 1000)
              --max N          last rate (default 40000)
              --seconds N      length of each step (default 4)
              --warmup N       seconds of warm-up at the first rate before each step, not counted (default 2)
              --keep-running   one server per target for the whole ladder (steps then carry earlier steps' transactions)
              --retries N      reruns of an unclean step before the ladder stops (default 1)
              --budget N       seconds for the whole run (default 420)
              --workers N      pjsharp --workers and pjsip-perf --thread-count (default 1)
              --server-cpu L   taskset CPU list for the server (default 0)
              --client-cpu L   taskset CPU list for SIPp (default 1)
              --targets LIST   pjsharp,pjsip-perf (default both)
              --pjsharp PATH   pjsharp executable or its dll (default: env PJSHARP_SERVER, then the Release build)
              --pjsip-perf PATH  pjsip-perf binary (default: env PJSIP_PERF)
              --pjsharp-arg A  extra argument for pjsharp serve (repeatable)
            """;

        public int Start { get; private set; } = 1000;

        public int Step { get; private set; } = 1000;

        public int Max { get; private set; } = 40000;

        public int Seconds { get; private set; } = 4;

        public int WarmupSeconds { get; private set; } = 2;

        public int Retries { get; private set; } = 1;

        public TimeSpan Budget { get; private set; } = TimeSpan.FromSeconds(420);

        public bool KeepRunning { get; private set; }

        public TimeSpan Pause { get; } = TimeSpan.FromMilliseconds(500);

        public int Workers { get; private set; } = 1;

        public string? ServerCpu { get; private set; } = "0";

        public string? ClientCpu { get; private set; } = "1";

        public HashSet<string> Targets { get; private set; } = new(StringComparer.Ordinal) { PjSharpName, PjsipPerfName };

        public string? PjSharpPath { get; private set; }

        public string? PjsipPerfPath { get; private set; }

        public List<string> PjSharpArguments { get; } = [];

        public bool Help { get; private set; }

        public static Settings Parse(string[] args)
        {
            var settings = new Settings();
            for (var i = 0; i < args.Length; i++)
            {
                var name = args[i];
                if (name is "-h" or "--help")
                {
                    settings.Help = true;
                    continue;
                }
                if (name == "--keep-running")
                {
                    settings.KeepRunning = true;
                    continue;
                }
                if (i + 1 >= args.Length)
                    throw new FormatException($"{name} needs a value");
                var value = args[++i];
                switch (name)
                {
                    case "--start": settings.Start = Positive(name, value); break;
                    case "--step": settings.Step = Positive(name, value); break;
                    case "--max": settings.Max = Positive(name, value); break;
                    case "--seconds": settings.Seconds = Positive(name, value); break;
                    case "--warmup": settings.WarmupSeconds = NonNegative(name, value); break;
                    case "--retries": settings.Retries = NonNegative(name, value); break;
                    case "--budget": settings.Budget = TimeSpan.FromSeconds(Positive(name, value)); break;
                    case "--workers": settings.Workers = Positive(name, value); break;
                    case "--server-cpu": settings.ServerCpu = value.Length == 0 ? null : value; break;
                    case "--client-cpu": settings.ClientCpu = value.Length == 0 ? null : value; break;
                    case "--pjsharp": settings.PjSharpPath = value; break;
                    case "--pjsip-perf": settings.PjsipPerfPath = value; break;
                    case "--pjsharp-arg": settings.PjSharpArguments.Add(value); break;
                    case "--targets":
                        settings.Targets = new HashSet<string>(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
                        if (settings.Targets.Count == 0 || settings.Targets.Any(t => t is not (PjSharpName or PjsipPerfName)))
                            throw new FormatException($"--targets takes {PjSharpName} and/or {PjsipPerfName}");
                        break;
                    default:
                        throw new FormatException($"unknown option {name}");
                }
            }
            return settings;
        }

        private static int Positive(string name, string value)
        {
            var number = NonNegative(name, value);
            return number > 0 ? number : throw new FormatException($"{name} must be positive");
        }

        private static int NonNegative(string name, string value) =>
            int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                ? number
                : throw new FormatException($"{name} takes a whole number, not '{value}'");
    }
}
