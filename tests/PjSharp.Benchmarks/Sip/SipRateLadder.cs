using System.Diagnostics;
using System.Globalization;
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
public sealed class SipRateLadder(LadderSettings settings) : RateLadder<LadderStep>(settings)
{
    public const string PjsipPerfVariable = LadderTargets.PjsipPerfVariable;

    /// <summary>The project's goal: pjsharp sustains at least this share of raw pjsip's clean rate.</summary>
    public const double TargetRatio = 0.85;

    /// <summary>A step counts only when the achieved rate is within 3% of the offered one.</summary>
    public const double RateTolerance = LadderStep.RateTolerance;

    private const int DefaultStart = 1000;
    private const int DefaultStep = 1000;
    private const int DefaultMax = 40000;
    private const int DefaultSeconds = 4;
    private const int DefaultBudget = 420;

    private static string Usage => LadderSettings.Usage("sip-ladder", "", DefaultStart, DefaultStep, DefaultMax, DefaultSeconds, DefaultBudget);

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        LadderSettings settings;
        try
        {
            settings = LadderSettings.Parse(args.SkipWhile(a => a == "sip-ladder").ToArray(), DefaultStart, DefaultStep, DefaultMax, DefaultSeconds, DefaultBudget);
        }
        catch (FormatException error)
        {
            await Console.Error.WriteLineAsync($"sip-ladder: {error.Message}\n\n{Usage}");
            return 2;
        }
        if (settings.Help)
        {
            Console.WriteLine(Usage);
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

        var ladder = new SipRateLadder(settings);
        var clock = Stopwatch.StartNew();
        var outcomes = await ladder.ClimbAsync(runnable, clock);
        foreach (var outcome in outcomes)
            ladder.PrintTable(outcome);
        PrintSummary(outcomes, clock.Elapsed);
        return outcomes.Any(o => o.Steps.Count > 0) ? 0 : 1;
    }

    private static List<LadderTarget> ResolveTargets(LadderSettings settings)
    {
        var targets = new List<LadderTarget>();
        if (settings.Targets.Contains(LadderTargets.PjSharpName))
            targets.Add(LadderTargets.PjSharp(settings, "pjsharp", "OPTIONS answered statefully", "pjsharp-sip-ladder.db"));
        // User part "1" selects its stateful module (pjsip-perf.c, mod_stateful_server).
        if (settings.Targets.Contains(LadderTargets.PjsipPerfName))
            targets.Add(LadderTargets.PjsipPerf(settings, "1", "sip:1@ (stateful)"));
        return targets;
    }

    protected override string StepColumns =>
        $"{"rate/s",7} {"calls",7} {"ok",7} {"failed",7} {"retrans",7} {"achieved/s",10} {"srv CPU",8} {"CPU us/call",11}";

    // A fresh server costs its start (about a second for pjsharp) and its warm-up.
    protected override TimeSpan StepCost =>
        TimeSpan.FromSeconds(Settings.Seconds + 2 + (Settings.KeepRunning ? 0 : 1 + Settings.WarmupSeconds));

    protected override async Task<LadderStep> RunStepAsync(ServerProcess server, LadderTarget target, ListeningEndpoint endpoint, int rate)
    {
        var cpuBefore = server.ProcessorTime;
        var result = await SippRunner.RunAsync(StepOptions(endpoint, target.Service, rate, Settings.Seconds));
        var cpu = server.ProcessorTime - cpuBefore;
        return new LadderStep(rate, result, cpu);
    }

    protected override async Task<(long Successful, string Description)> WarmUpAsync(ServerProcess server, LadderTarget target, ListeningEndpoint endpoint)
    {
        var warm = await SippRunner.RunAsync(StepOptions(endpoint, target.Service, Settings.Start, Settings.WarmupSeconds));
        return (warm.Successful, warm.ToString());
    }

    private SippOptions StepOptions(ListeningEndpoint endpoint, string service, int rate, int seconds) => new()
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
        CpuList = Settings.ClientCpu,
    };

    protected override string FormatStep(LadderStep rung)
    {
        ArgumentNullException.ThrowIfNull(rung);
        var r = rung.Result;
        var note = r.Statistics == null ? $" (no statistics; exit {r.ExitCode}: {LadderText.LastLine(r.Output)})" : "";
        if (r.Statistics != null && r.AchievedRate < rung.Rate * RateTolerance)
            note += " (more than 3% below the offered rate)";
        return string.Create(CultureInfo.InvariantCulture,
            $"{rung.Rate,7} {r.Expected,7} {r.Successful,7} {r.Lost,7} {r.Retransmissions,7} {r.AchievedRate,10:0.0} {rung.CpuShare,7:P0} {rung.CpuPerCall,11:0.0}  {rung.Verdict}{note}");
    }

    private static void PrintHeader(LadderSettings settings, List<LadderTarget> targets)
    {
        Console.WriteLine("SIP rate ladder: OPTIONS over UDP on loopback, fixed-rate steps, SIPp as the client.");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"steps {settings.Start}..{settings.Max}/s by {settings.Step}, {settings.Seconds} s each, {settings.Retries} retry per unclean step, budget {settings.Budget.TotalSeconds:0} s"));
        Console.WriteLine($"{SippRunner.Version}; {Environment.ProcessorCount} CPUs; load {LadderText.LoadAverage()}");
        Console.WriteLine("clean = every call answered 200 with no failure and no retransmission; the targets climb together, rate by rate");
        foreach (var target in targets.Where(t => t.Options == null))
            Console.WriteLine($"{target.Name}: {target.Description}");
    }

    private static void PrintSummary(List<LadderOutcome<LadderStep>> outcomes, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"== summary ({elapsed.TotalSeconds:0} s)"));
        foreach (var outcome in outcomes)
        {
            var cost = outcome.Steps.Where(s => s.Clean).Select(s => s.CpuPerCall).DefaultIfEmpty().Min();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {outcome.Target.Name,-10} highest clean rate {outcome.HighestClean,6}/s  best server CPU per call {cost,6:0.0} us  ({outcome.StopReason})"));
            if (outcome.WorkerAllocatedBytes is { } bytes)
            {
                var calls = outcome.CallsServed;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {outcome.Target.Name,-10} worker threads allocated {bytes} managed bytes over {calls} calls: {(calls > 0 ? (double)bytes / calls : 0):0.00} bytes per call (warm-up and start-up included)"));
            }
        }
        var pjsharp = outcomes.FirstOrDefault(o => o.Target.Name == LadderTargets.PjSharpName);
        var reference = outcomes.FirstOrDefault(o => o.Target.Name == LadderTargets.PjsipPerfName);
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
}
