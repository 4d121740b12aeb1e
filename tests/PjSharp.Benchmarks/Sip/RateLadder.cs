using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using PjSharp.Testing.Sipp;

namespace PjSharp.Benchmarks.Sip;

/// <summary>One step of a ladder: SIPp's result at one offered rate and the server CPU it cost.</summary>
public class LadderStep(int rate, SippResult result, TimeSpan serverCpu)
{
    /// <summary>A step counts only when the achieved rate is within 3% of the offered one.</summary>
    public const double RateTolerance = 0.97;

    public int Rate { get; } = rate;

    public SippResult Result { get; } = result;

    public TimeSpan ServerCpu { get; } = serverCpu;

    /// <summary>Successful calls per second, as this kind of step counts them.</summary>
    public virtual double AchievedRate => Result.AchievedRate;

    /// <summary>Nothing failed or was retransmitted, and SIPp kept within 3% of the offered rate (a saturated server slows it down).</summary>
    public bool Clean => Result.Clean && AchievedRate >= Rate * RateTolerance;

    /// <summary>Server CPU per successful call, in microseconds.</summary>
    public double CpuPerCall => Result.Successful > 0 ? ServerCpu.TotalMicroseconds / Result.Successful : 0;

    /// <summary>The server's share of one CPU over SIPp's run.</summary>
    public double CpuShare
    {
        get
        {
            var wall = Result.Statistics?.Elapsed ?? Result.WallTime;
            return wall > TimeSpan.Zero ? ServerCpu / wall : 0;
        }
    }

    public string Verdict { get; set; } = "";
}

/// <summary>How one target's climb went.</summary>
public sealed class LadderOutcome<TStep>(LadderTarget target)
    where TStep : LadderStep
{
    public LadderTarget Target { get; } = target;

    public ServerProcess? Server { get; set; }

    public ListeningEndpoint? Endpoint { get; set; }

    public int Starts { get; set; }

    public List<TStep> Steps { get; } = [];

    public int HighestClean { get; set; }

    public string? StopReason { get; set; }

    /// <summary>Managed bytes pjsharp's workers allocated over the whole run, from its stop log line.</summary>
    public long? WorkerAllocatedBytes { get; set; }

    public long CallsServed { get; set; }
}

/// <summary>
/// The climbing both SIPp ladders share: servers pinned to one CPU set and SIPp to another, fixed-rate
/// steps that rise until a step is unclean twice, the targets taking each rate in turn, every step on a
/// fresh warmed-up server unless --keep-running. A ladder supplies what one step runs and prints.
/// </summary>
public abstract class RateLadder<TStep>(LadderSettings settings)
    where TStep : LadderStep
{
    protected LadderSettings Settings { get; } = settings;

    /// <summary>The table's column titles after the target's name.</summary>
    protected abstract string StepColumns { get; }

    /// <summary>Wall time one step costs a target, its server's start and warm-up included.</summary>
    protected abstract TimeSpan StepCost { get; }

    /// <summary>Runs one measured step against a started server.</summary>
    protected abstract Task<TStep> RunStepAsync(ServerProcess server, LadderTarget target, ListeningEndpoint endpoint, int rate);

    /// <summary>Runs the uncounted warm-up; returns its successful calls and a line for the first start.</summary>
    protected abstract Task<(long Successful, string Description)> WarmUpAsync(ServerProcess server, LadderTarget target, ListeningEndpoint endpoint);

    /// <summary>The step's columns (matching <see cref="StepColumns"/>), its verdict and notes.</summary>
    protected abstract string FormatStep(TStep rung);

    /// <summary>
    /// Climbs the ladder for all targets together: at each rate every target still climbing takes its
    /// step (the first target alternates), so background load on a shared machine hits them alike.
    /// Unless --keep-running, every step runs on a freshly started, warmed-up server: a UDP server
    /// transaction lives 32 s after its answer (timer J), and the expiry of an earlier step's
    /// transactions on the shared server core would otherwise load whichever step runs next.
    /// </summary>
    public async Task<List<LadderOutcome<TStep>>> ClimbAsync(IEnumerable<LadderTarget> targets, Stopwatch clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        var outcomes = targets.Select(t => new LadderOutcome<TStep>(t)).ToList();
        try
        {
            foreach (var outcome in outcomes)
            {
                if (await StartAsync(outcome) && !Settings.KeepRunning)
                    await StopServerAsync(outcome);
            }

            Console.WriteLine();
            Console.WriteLine($"   {"target",-10} {StepColumns}  result");
            var round = 0;
            for (var rate = Settings.Start; rate <= Settings.Max; rate += Settings.Step, round++)
            {
                var climbing = outcomes.Where(o => o.StopReason == null).ToList();
                if (climbing.Count == 0)
                    break;
                // A round runs for every climbing target or for none, so the budget cuts them at the same rate.
                if (clock.Elapsed + StepCost * climbing.Count > Settings.Budget)
                {
                    foreach (var outcome in climbing)
                    {
                        outcome.StopReason = $"time budget ({Settings.Budget.TotalSeconds:0} s) reached before {rate}/s";
                        await StopServerAsync(outcome);
                    }
                    break;
                }
                if (round % 2 == 1)
                    climbing.Reverse();
                foreach (var outcome in climbing)
                {
                    await ClimbRungAsync(outcome, rate, clock);
                    if (outcome.StopReason != null)
                        await StopServerAsync(outcome);
                }
                await Task.Delay(Settings.Pause);
            }
            foreach (var outcome in outcomes.Where(o => o.StopReason == null))
            {
                outcome.StopReason = $"top of the ladder ({Settings.Max}/s) reached";
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

    /// <summary>Prints one target's steps and where its climb ended.</summary>
    public void PrintTable(LadderOutcome<TStep> outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        Console.WriteLine();
        Console.WriteLine($"== {outcome.Target.Name}: {outcome.Target.Description}");
        if (outcome.Steps.Count == 0)
        {
            Console.WriteLine($"   no step ran ({outcome.StopReason})");
            return;
        }
        Console.WriteLine($"   {StepColumns}  result");
        foreach (var step in outcome.Steps)
            Console.WriteLine($"   {FormatStep(step)}");
        Console.WriteLine($"   highest clean rate: {outcome.HighestClean}/s ({outcome.StopReason})");
    }

    /// <summary>Starts the target's server and warms it up; the first start prints where it runs.</summary>
    private async Task<bool> StartAsync(LadderOutcome<TStep> outcome)
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
            Console.WriteLine($"   pid {server.Pid}, UDP {outcome.Endpoint.HostPort}, server CPUs {(server.Pinned ? Settings.ServerCpu : "unpinned")}, SIPp CPUs {Settings.ClientCpu ?? "unpinned"}, load {LadderText.LoadAverage()}");
        if (Settings.WarmupSeconds > 0)
        {
            var (successful, description) = await WarmUpAsync(server, target, outcome.Endpoint);
            if (first)
                Console.WriteLine($"   warm-up {Settings.Start}/s for {Settings.WarmupSeconds} s{(Settings.KeepRunning ? "" : " before every step")}: {description}");
            outcome.CallsServed += successful;
        }
        return true;
    }

    /// <summary>One rung for one target: the step, retried when unclean; sets StopReason when the climb ends here.</summary>
    private async Task ClimbRungAsync(LadderOutcome<TStep> outcome, int rate, Stopwatch clock)
    {
        for (var attempt = 0; attempt <= Settings.Retries; attempt++)
        {
            if (clock.Elapsed + StepCost > Settings.Budget)
            {
                outcome.StopReason = $"time budget ({Settings.Budget.TotalSeconds:0} s) reached before {rate}/s";
                return;
            }
            if (outcome.Server == null && !await StartAsync(outcome))
                return;
            var server = outcome.Server!;
            var step = await RunStepAsync(server, outcome.Target, outcome.Endpoint!, rate);
            var last = step.Clean || attempt == Settings.Retries || server.HasExited;
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
            if (!Settings.KeepRunning)
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
    private static async Task StopServerAsync(LadderOutcome<TStep> outcome)
    {
        if (outcome.Server is not { } server)
            return;
        outcome.Server = null;
        try
        {
            var stop = await server.StopAsync(TimeSpan.FromSeconds(5));
            // pjsip-perf has no SIGTERM handler (it dies with 143); only pjsharp's graceful stop is worth a note.
            if (outcome.Target.Name == LadderTargets.PjSharpName && (!stop.ExitedInTime || stop.ExitCode != 0))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   note: pjsharp after SIGTERM: exit {stop.ExitCode} after {stop.Elapsed.TotalSeconds:0.0} s{(stop.ExitedInTime ? "" : " (killed: not out within 5 s)")}"));
            }
            if (outcome.Target.Name == LadderTargets.PjSharpName && ParseWorkerAllocations(server.OutputTail(40)) is { } bytes)
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
}

/// <summary>Small pieces of the ladders' printed reports.</summary>
public static class LadderText
{
    /// <summary>The first three fields of /proc/loadavg, or "unknown".</summary>
    public static string LoadAverage()
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

    /// <summary>The last non-empty line of a process's output, for short notes.</summary>
    public static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
}
