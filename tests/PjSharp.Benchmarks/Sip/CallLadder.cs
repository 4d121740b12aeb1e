using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using PjSharp.Testing.Sipp;

namespace PjSharp.Benchmarks.Sip;

/// <summary>
/// The call ladder: SIPp places complete calls (INVITE with an audio offer, 200 with an answer, ACK,
/// a hold time, BYE, 200) at fixed rates that climb step by step, against pjsharp's echo service and
/// against pjsip-perf's call handler, on the same machinery as the OPTIONS ladder: server on one core,
/// SIPp on the other, a fresh warmed-up server per step, the targets taking each rate in turn. Per step
/// it prints the calls per second achieved, failures, retransmissions, the calls held at once (rate times
/// hold), the server's CPU per call and its resident memory, and that memory's growth per held call.
/// </summary>
public sealed partial class CallLadder(LadderSettings settings, int holdMilliseconds, bool bridged = false, bool directMedia = false) : RateLadder<CallLadder.CallStep>(settings)
{
    /// <summary>pjsharp's goal: this many calls per second to the echo service, clean.</summary>
    public const int TargetCallRate = 1000;

    /// <summary>pjsharp's goal with --bridge: this many bridged calls per second (two dialogs each), clean.</summary>
    public const int TargetBridgedCallRate = 500;

    /// <summary>The AOR that bridged calls go to: a permanent contact, the callee SIPp.</summary>
    public const string CalleeUser = "callee";

    private readonly int _calleePort = bridged ? SippRunner.FreeUdpPort() : 0;

    private int TargetRate => bridged ? TargetBridgedCallRate : TargetCallRate;

    /// <summary>pjsharp's goal: less memory than this per call held, in KB.</summary>
    public const double TargetKilobytesPerCall = 100;

    /// <summary>The request-URI user pjsharp answers with its echo service.</summary>
    public const string EchoUser = "echo";

    /// <summary>pjsip-perf handles an INVITE to user "2" with an INVITE session and a dummy SDP (pjsip-perf.c, mod_call_server).</summary>
    public const string PjsipPerfCallUser = "2";

    private const int DefaultStart = 500;
    private const int DefaultStep = 500;
    private const int DefaultMax = 5000;
    private const int DefaultSeconds = 10;
    private const int DefaultBudget = 600;
    private const int DefaultHoldMilliseconds = 1000;
    private static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan FineSampleInterval = TimeSpan.FromMilliseconds(25);

    private static string Usage => LadderSettings.Usage("call-ladder", """
          --hold-ms N      how long each call stays up between ACK and BYE, ms (default 1000)
          --bridge         pjsharp bridges each call to a second SIPp (the B2BUA: two dialogs,
                           relayed RTP) instead of answering it with echo; pjsip-perf answers as usual
          --direct-media   with --bridge: the endpoints allow direct_media, so SDP passes end to end
                           and no RTP is relayed

        """, DefaultStart, DefaultStep, DefaultMax, DefaultSeconds, DefaultBudget);

    private TimeSpan Hold { get; } = TimeSpan.FromMilliseconds(holdMilliseconds);

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        LadderSettings settings;
        var hold = DefaultHoldMilliseconds;
        var bridge = args.Contains("--bridge");
        var direct = args.Contains("--direct-media");
        try
        {
            settings = LadderSettings.Parse(args.SkipWhile(a => a == "call-ladder").Where(a => a is not ("--bridge" or "--direct-media")).ToArray(), DefaultStart, DefaultStep, DefaultMax, DefaultSeconds, DefaultBudget,
                (name, value) =>
                {
                    if (name != "--hold-ms")
                        return false;
                    hold = LadderSettings.NonNegative(name, value);
                    return true;
                });
        }
        catch (FormatException error)
        {
            await Console.Error.WriteLineAsync($"call-ladder: {error.Message}\n\n{Usage}");
            return 2;
        }
        if (settings.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }
        if (!SippRunner.IsAvailable)
        {
            await Console.Error.WriteLineAsync($"call-ladder: {SippRunner.MissingMessage}");
            return 1;
        }

        var ladder = new CallLadder(settings, hold, bridge, direct);
        var targets = ladder.ResolveTargets();
        ladder.PrintHeader(targets);
        var runnable = targets.Where(t => t.Options != null).ToList();
        var clock = Stopwatch.StartNew();
        var outcomes = runnable.Count > 0 ? await ladder.ClimbAsync(runnable, clock) : [];
        foreach (var outcome in outcomes)
            ladder.PrintTable(outcome);
        ladder.PrintSummary(targets, outcomes, clock.Elapsed);
        return outcomes.Any(o => o.Steps.Count > 0) ? 0 : 1;
    }

    private List<LadderTarget> ResolveTargets()
    {
        var targets = new List<LadderTarget>();
        if (Settings.Targets.Contains(LadderTargets.PjSharpName))
        {
            // SIPp calls as an endpoint identified by its loopback address (no digest round trip, as a
            // trunk would), without per-call console logging.
            targets.Add(bridged
                ? LadderTargets.PjSharp(Settings, CalleeUser, $"sip:{CalleeUser}@ bridged to a second SIPp on port {_calleePort}, {(directMedia ? "direct media (SDP end to end)" : "RTP relayed")}", "pjsharp-bridge-ladder.db",
                    ["--log-level", "Warning", "--config", LoopbackTrunkConfiguration(
                        $"\n[{CalleeUser}]\ntype=aor\ncontact=sip:{CalleeUser}@127.0.0.1:{_calleePort}\n", directMedia)],
                    new Dictionary<string, string?> { ["PJSHARP__PjSharp__Security__MaxUnidentifiedRequests"] = "100000000" })
                : LadderTargets.PjSharp(Settings, EchoUser, $"sip:{EchoUser}@ (echo service)", "pjsharp-call-ladder.db",
                    ["--log-level", "Warning", "--config", LoopbackTrunkConfiguration("")],
                    new Dictionary<string, string?> { ["PJSHARP__PjSharp__Security__MaxUnidentifiedRequests"] = "100000000" }));
        }
        if (Settings.Targets.Contains(LadderTargets.PjsipPerfName))
            targets.Add(LadderTargets.PjsipPerf(Settings, PjsipPerfCallUser, $"sip:{PjsipPerfCallUser}@ (INVITE session, dummy SDP answer)"));
        return targets;
    }

    /// <summary>The called party of bridged calls: SIPp answering every call on the AOR's contact port.</summary>
    private SippRun? StartCallee(LadderTarget target, int calls)
    {
        if (!bridged || target.Name != LadderTargets.PjSharpName)
            return null;
        return SippRunner.Start(new SippOptions
        {
            Scenario = SippRunner.Scenario("call-uas-answer.xml"),
            Target = "127.0.0.1:5060",
            LocalPort = _calleePort,
            MaxCalls = calls,
            Timeout = TimeSpan.FromSeconds(Settings.Seconds * 3 + Hold.TotalSeconds + 30),
            SocketBufferSize = 4 * 1024 * 1024,
            CpuList = Settings.ClientCpu,
            TraceErrors = true,
            ExtraArguments = ["-l", "1000000"],
        });
    }

    /// <summary>A configuration file with one endpoint matched by the loopback address.</summary>
    private static string LoopbackTrunkConfiguration(string more, bool directMedia = true)
    {
        var path = Path.Combine(Path.GetTempPath(), "pjsharp-call-ladder.conf");
        File.WriteAllText(path, """
            [loopback]
            type=endpoint
            context=default
            allow=ulaw,alaw
            direct_media=DIRECT

            [loopback]
            type=identify
            endpoint=loopback
            match=127.0.0.0/8

            [global]
            type=global
            endpoint_identifier_order=ip,username
            """.Replace("DIRECT", directMedia ? "yes" : "no", StringComparison.Ordinal) + more);
        return path;
    }

    protected override string StepColumns =>
        $"{"rate/s",7} {"calls",7} {"ok",7} {"failed",7} {"retrans",7} {"calls/s",8} {"held",6} {"srv CPU",7} {"us/call",8} {"RSS MiB",7} {"KB/held",7} {"SIPp CPU",8}";

    // A fresh server costs its start (about a second for pjsharp) and its warm-up; every SIPp run ends one hold after its last call.
    protected override TimeSpan StepCost =>
        TimeSpan.FromSeconds(Settings.Seconds + 2 + (Settings.KeepRunning ? 0 : 1 + Settings.WarmupSeconds + Hold.TotalSeconds)) + Hold;

    protected override async Task<(long Successful, string Description)> WarmUpAsync(ServerProcess server, LadderTarget target, ListeningEndpoint endpoint)
    {
        await using var callee = StartCallee(target, Settings.Start * Settings.WarmupSeconds);
        await WaitForCalleeAsync(callee);
        var warm = await SippRunner.RunAsync(StepOptions(endpoint, target.Service, Settings.Start, Settings.WarmupSeconds));
        var step = new CallStep(Settings.Start, warm, TimeSpan.Zero, Hold, default, 0, null, null);
        var failure = warm.Clean ? "" : $" ({DescribeFailure(warm)})";
        return (warm.Successful, string.Create(CultureInfo.InvariantCulture,
            $"{warm.Successful}/{warm.Expected} calls completed, {warm.Lost} failed, {warm.Retransmissions} retransmissions, {step.AchievedRate:0.0} calls/s{failure}"));
    }

    /// <summary>
    /// One step: SIPp runs while the server's resident memory and SIPp's CPU are sampled; the server's
    /// CPU is the difference of its /proc counters around the run.
    /// </summary>
    protected override async Task<CallStep> RunStepAsync(ServerProcess server, LadderTarget target, ListeningEndpoint endpoint, int rate)
    {
        var before = ProcessMemory.Read(server.Pid);
        var samples = new List<(TimeSpan At, long ResidentKiB)>();
        var cpuBefore = server.ProcessorTime;
        TimeSpan? sippCpu = null;
        await using var callee = StartCallee(target, rate * Settings.Seconds);
        await WaitForCalleeAsync(callee);
        await using (var run = SippRunner.Start(StepOptions(endpoint, target.Service, rate, Settings.Seconds)))
        {
            var clock = Stopwatch.StartNew();
            using var sipp = TryOpen(run.Pid);
            while (!run.Completion.IsCompleted)
            {
                // Finely while the first calls are all still up (see HeldCallGrowth), coarsely after.
                await Task.WhenAny(run.Completion, Task.Delay(clock.Elapsed < Hold ? FineSampleInterval : SampleInterval));
                samples.Add((clock.Elapsed, ProcessMemory.Read(server.Pid).ResidentKiB));
                sippCpu = ProcessorTime(sipp) ?? sippCpu;
            }
            var result = await run.Completion;
            // A server that died mid-step reads zero.
            var cpu = server.HasExited ? TimeSpan.Zero : server.ProcessorTime - cpuBefore;
            samples.Add((clock.Elapsed, ProcessMemory.Read(server.Pid).ResidentKiB));
            var peak = Math.Max(before.ResidentKiB, samples.Max(s => s.ResidentKiB));
            var perHeldCall = result.Successful > 0 ? HeldCallGrowth(samples, rate) : null;
            return new CallStep(rate, result, cpu, Hold, before, peak, perHeldCall, sippCpu);
        }
    }

    private async Task WaitForCalleeAsync(SippRun? callee)
    {
        if (callee == null)
            return;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!callee.Completion.IsCompleted && DateTime.UtcNow < deadline && !SippRunner.IsListening(_calleePort))
            await Task.Delay(20);
    }

    /// <summary>
    /// Resident memory per call held, in KB: until one hold time after SIPp starts no call has ended, so
    /// memory grows only by calls coming up. The slope over the second half of that window (RSS growth
    /// over the calls placed meanwhile) leaves out SIPp's start-up and the first calls, which reuse what
    /// the warm-up's calls freed; transactions of ended calls (kept 32 s by timer J) are not in it.
    /// Null when the hold is too short to measure.
    /// </summary>
    private double? HeldCallGrowth(List<(TimeSpan At, long ResidentKiB)> samples, int rate)
    {
        var from = samples.LastOrDefault(s => s.At <= Hold / 2 && s.ResidentKiB > 0);
        var to = samples.LastOrDefault(s => s.At <= Hold && s.ResidentKiB > 0);
        var window = to.At - from.At;
        if (from.ResidentKiB == 0 || to.ResidentKiB == 0 || window < TimeSpan.FromMilliseconds(100))
            return null;
        return Math.Max(0, to.ResidentKiB - from.ResidentKiB) / (rate * window.TotalSeconds);
    }

    private SippOptions StepOptions(ListeningEndpoint endpoint, string service, int rate, int seconds)
    {
        var holdSeconds = (int)Math.Ceiling(Hold.TotalSeconds);
        return new SippOptions
        {
            Scenario = SippRunner.Scenario("call-bench-uac.xml"),
            Target = endpoint.HostPort,
            Transport = SippTransport.Udp,
            Service = service,
            MaxCalls = rate * seconds,
            Rate = rate,
            Timeout = TimeSpan.FromSeconds(seconds * 2 + holdSeconds + 15),
            ReceiveTimeout = TimeSpan.FromSeconds(5),
            // Same as pjsip's own UDP buffers here, so SIPp is not the one dropping.
            SocketBufferSize = 4 * 1024 * 1024,
            CpuList = Settings.ClientCpu,
            // Unexpected answers are kept, so a failing target says what it answered.
            TraceErrors = true,
            ExtraArguments =
            [
                // The scenario's pause lasts -d milliseconds.
                "-d", ((long)Hold.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                // Room for every call of a stalled server until its answers time out (SIPp's default limit scales with -d).
                "-l", Math.Max(100, rate * (holdSeconds + 6)).ToString(CultureInfo.InvariantCulture),
            ],
        };
    }

    protected override string FormatStep(CallStep rung)
    {
        ArgumentNullException.ThrowIfNull(rung);
        var r = rung.Result;
        var note = r.Statistics == null ? $" (no statistics; exit {r.ExitCode}: {LadderText.LastLine(r.Output)})" : "";
        if (r.Statistics != null && rung.AchievedRate < rung.Rate * LadderStep.RateTolerance)
            note += " (more than 3% below the offered rate)";
        if (!r.Clean && r.Statistics != null && r.Lost > 0)
            note += $" ({DescribeFailure(r)})";
        var perHeld = rung.KilobytesPerHeldCall is { } kb ? kb.ToString("0.0", CultureInfo.InvariantCulture) : "-";
        var sippCpu = rung.SippCpuShare is { } share ? share.ToString("P0", CultureInfo.InvariantCulture) : "-";
        return string.Create(CultureInfo.InvariantCulture,
            $"{rung.Rate,7} {r.Expected,7} {r.Successful,7} {r.Lost,7} {r.Retransmissions,7} {rung.AchievedRate,8:0.0} {rung.HeldCalls,6:0} {rung.CpuShare,7:P0} {rung.CpuPerCall,8:0.0} {rung.PeakResidentKiB / 1024.0,7:0.0} {perHeld,7} {sippCpu,8}  {rung.Verdict}{note}");
    }

    private void PrintHeader(List<LadderTarget> targets)
    {
        Console.WriteLine("Call ladder: INVITE (audio offer) / 200 (answer) / ACK / hold / BYE / 200 over UDP on loopback, fixed-rate steps, SIPp as the caller.");
        if (bridged)
            Console.WriteLine("--bridge: pjsharp bridges every call to a second SIPp (an AOR's permanent contact): two dialogs and relayed RTP per call; pjsip-perf answers its calls itself, as the raw pjsip reference.");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"steps {Settings.Start}..{Settings.Max} calls/s by {Settings.Step}, {Settings.Seconds} s of new calls each, hold {Hold.TotalMilliseconds:0} ms, {Settings.Retries} retry per unclean step, budget {Settings.Budget.TotalSeconds:0} s"));
        Console.WriteLine($"{SippRunner.Version}; {Environment.ProcessorCount} CPUs; load {LadderText.LoadAverage()}");
        Console.WriteLine("clean = every call completed with no failure and no retransmission, and SIPp within 3% of the offered rate");
        Console.WriteLine("calls/s = completed calls over SIPp's run less one hold; held = rate x hold; RSS = server's peak VmRSS during the step;");
        Console.WriteLine("KB/held = RSS growth per call placed while no call has ended yet (second half of the first hold); SIPp CPU = share of its core");
        foreach (var target in targets.Where(t => t.Options == null))
            Console.WriteLine($"{target.Name}: not measured: {target.Description}");
    }

    private void PrintSummary(List<LadderTarget> targets, List<LadderOutcome<CallStep>> outcomes, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"== summary ({elapsed.TotalSeconds:0} s, hold {Hold.TotalMilliseconds:0} ms)"));
        foreach (var target in targets)
        {
            var outcome = outcomes.FirstOrDefault(o => o.Target == target);
            if (outcome == null || outcome.HighestClean == 0)
            {
                Console.WriteLine($"   {target.Name,-10} not measured: {NotMeasuredReason(target, outcome)}");
                continue;
            }
            var best = outcome.Steps.Last(s => s.Clean && s.Rate == outcome.HighestClean);
            var cost = outcome.Steps.Where(s => s.Clean).Select(s => s.CpuPerCall).DefaultIfEmpty().Min();
            var goal = target.Name == LadderTargets.PjSharpName ? TargetRate : TargetCallRate;
            var rateMet = outcome.HighestClean >= goal;
            var goalText = bridged && target.Name != LadderTargets.PjSharpName ? "reference" : $"target >= {goal}: {(rateMet ? "met" : "NOT met")}";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {target.Name,-10} highest clean rate {outcome.HighestClean,5} {(bridged && target.Name == LadderTargets.PjSharpName ? "bridged calls/s" : "calls/s")} ({goalText})  best server CPU per call {cost,6:0.0} us  ({outcome.StopReason})"));
            if (best.KilobytesPerHeldCall is { } perCall)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {target.Name,-10} at {best.Rate} calls/s: {best.HeldCalls:0} calls held, {perCall:0.0} KB per held call (target < {KilobyteGoal(target):0} KB{(bridged && target.Name == LadderTargets.PjSharpName ? ", two sessions" : "")}: {(perCall < KilobyteGoal(target) ? "met" : "NOT met")})"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {target.Name,-10} RSS {best.Memory.ResidentMiB:0.0} MiB before the step, {best.PeakResidentKiB / 1024.0:0.0} MiB at its peak: {best.KilobytesPerCallPlaced:0.0} KB per call placed, ended calls' BYE transactions (timer J, 32 s) included"));
            }
            else
            {
                Console.WriteLine($"   {target.Name,-10} memory per held call: not measured (no hold time)");
            }
            if (outcome.WorkerAllocatedBytes is { } bytes)
            {
                var calls = outcome.CallsServed;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   {target.Name,-10} worker threads allocated {bytes} managed bytes over {calls} calls: {(calls > 0 ? (double)bytes / calls : 0):0.00} bytes per call (warm-up and start-up included)"));
            }
        }
        var pjsharp = outcomes.FirstOrDefault(o => o.Target.Name == LadderTargets.PjSharpName);
        var reference = outcomes.FirstOrDefault(o => o.Target.Name == LadderTargets.PjsipPerfName);
        if (pjsharp is { HighestClean: > 0 } && reference is { HighestClean: > 0 })
        {
            // pjsip-perf answers with a fixed SDP and opens no media; pjsharp's echo opens RTP and RTCP per call.
            var ratio = (double)pjsharp.HighestClean / reference.HighestClean;
            var own = BestCpuPerCall(pjsharp);
            var raw = BestCpuPerCall(reference);
            var cpu = own > 0 && raw > 0 ? raw / own : (double?)null;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   pjsharp / pjsip-perf = {ratio:P0} of the highest clean call rate{(reference.HighestClean >= Settings.Max ? " (pjsip-perf reached the top of the ladder: a lower bound on its rate)" : "")}"));
            if (cpu is { } share)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"   pjsip-perf's CPU per call is {share:P0} of pjsharp's ({(bridged ? "each pjsharp call is two dialogs, a B2BUA's" + (directMedia ? "" : ", with two RTP/RTCP socket pairs relayed") : "pjsharp's echo opens RTP/RTCP and relays media")}; pjsip-perf answers a fixed SDP and opens none)"));
        }
        else
        {
            Console.WriteLine("   pjsharp / pjsip-perf: not available (both targets need a clean step)");
        }
    }

    // A bridged call holds two sessions, each with its RTP sockets.
    private double KilobyteGoal(LadderTarget target) => bridged && target.Name == LadderTargets.PjSharpName ? 2 * TargetKilobytesPerCall : TargetKilobytesPerCall;

    private static double BestCpuPerCall(LadderOutcome<CallStep> outcome) =>
        outcome.Steps.Where(s => s.Clean).Select(s => s.CpuPerCall).DefaultIfEmpty().Min();

    /// <summary>Why a target has no figure: not found, did not start, or what its calls got instead of completing.</summary>
    private static string NotMeasuredReason(LadderTarget target, LadderOutcome<CallStep>? outcome)
    {
        if (target.Options == null)
            return target.Description;
        if (outcome == null)
            return "not run";
        var failed = outcome.Steps.LastOrDefault(s => !s.Clean);
        if (failed == null)
            return $"no clean step ({outcome.StopReason})";
        var r = failed.Result;
        return string.Create(CultureInfo.InvariantCulture,
            $"no clean step ({outcome.StopReason}): {r.Successful}/{r.Expected} calls completed at {failed.Rate}/s, {DescribeFailure(r)}");
    }

    /// <summary>What went wrong in a run, from SIPp's counters and the first unexpected message it kept.</summary>
    private static string DescribeFailure(SippResult result)
    {
        if (result.Statistics is not { } s)
            return $"SIPp wrote no statistics (exit {result.ExitCode}: {LadderText.LastLine(result.Output)})";
        var parts = new List<string>();
        if (s.FailedUnexpectedMessage > 0)
        {
            var received = UnexpectedMessage().Match(result.Errors);
            parts.Add(received.Success
                ? $"{s.FailedUnexpectedMessage} unexpected answers, e.g. '{received.Groups[1].Value.Trim()}'"
                : $"{s.FailedUnexpectedMessage} unexpected answers");
        }
        if (s.FailedTimeoutOnReceive > 0)
            parts.Add($"{s.FailedTimeoutOnReceive} timed out waiting for an answer");
        if (s.FailedMaxUdpRetransmissions > 0)
            parts.Add($"{s.FailedMaxUdpRetransmissions} unanswered after every retransmission");
        var withoutAnswer = s.Count("FailedRegexpDoesntMatch(C)");
        if (withoutAnswer > 0)
            parts.Add($"{withoutAnswer} answered 200 without an SDP answer");
        var other = s.Failed - s.FailedUnexpectedMessage - s.FailedTimeoutOnReceive - s.FailedMaxUdpRetransmissions - withoutAnswer;
        if (other > 0)
            parts.Add($"{other} failed otherwise");
        if (result.Unfinished > 0)
            parts.Add($"{result.Unfinished} not finished");
        if (s.Retransmissions > 0)
            parts.Add($"{s.Retransmissions} retransmissions");
        return parts.Count > 0 ? string.Join(", ", parts) : "slower than offered";
    }

    // SIPp's error log: "... while expecting '200' (index 4), received 'SIP/2.0 404 Not Found\r\n..."
    [GeneratedRegex(@"received '([^'\r\n]*)")]
    private static partial Regex UnexpectedMessage();

    private static Process? TryOpen(int pid)
    {
        try
        {
            return Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    // From /proc/<pid>/stat while the process runs; null once it is gone.
    private static TimeSpan? ProcessorTime(Process? process)
    {
        if (process == null)
            return null;
        try
        {
            process.Refresh();
            return process.HasExited ? null : process.TotalProcessorTime;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>One rung of the call ladder: the common counts plus memory, hold and SIPp's own CPU.</summary>
    public sealed class CallStep(int rate, SippResult result, TimeSpan serverCpu, TimeSpan hold, ProcessMemory memory, long peakResidentKiB,
        double? kilobytesPerHeldCall, TimeSpan? sippCpu)
        : LadderStep(rate, result, serverCpu)
    {
        public TimeSpan Hold { get; } = hold;

        /// <summary>The server's memory just before SIPp started.</summary>
        public ProcessMemory Memory { get; } = memory;

        /// <summary>The highest VmRSS sampled while SIPp ran.</summary>
        public long PeakResidentKiB { get; } = peakResidentKiB;

        /// <summary>Calls up at once in the steady state: rate times hold.</summary>
        public double HeldCalls => Rate * Hold.TotalSeconds;

        /// <summary>Resident memory per call while calls only come up (no call has ended yet); null without a hold long enough to measure.</summary>
        public double? KilobytesPerHeldCall { get; } = kilobytesPerHeldCall;

        /// <summary>The step's peak memory over its start, per call placed: held calls and ended calls' transactions together.</summary>
        public double KilobytesPerCallPlaced => Result.Expected > 0 && Memory.ResidentKiB > 0
            ? Math.Max(0, PeakResidentKiB - Memory.ResidentKiB) / (double)Result.Expected
            : 0;

        /// <summary>SIPp's last call ends one hold after it was placed: the rate counts the placing time only.</summary>
        public override double AchievedRate
        {
            get
            {
                if (Result.Statistics is not { } s)
                    return 0;
                var placing = s.Elapsed - Hold;
                return placing > TimeSpan.Zero ? s.Successful / placing.TotalSeconds : 0;
            }
        }

        /// <summary>SIPp's share of its core over the run (sampled, so its last fraction of a second is missing).</summary>
        public double? SippCpuShare
        {
            get
            {
                var wall = Result.Statistics?.Elapsed ?? Result.WallTime;
                return sippCpu is { } cpu && wall > TimeSpan.Zero ? cpu / wall : null;
            }
        }
    }
}
