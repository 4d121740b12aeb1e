using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PjSharp.Hosting;
using PjSharp.Testing.Sipp;
using PjSharp.Transports;
using HostedServer = PjSharp.Hosting.PjSharpServer;

namespace PjSharp.Testing.Soak;

/// <summary>
/// The soak: a PjSharp server hosted in this process (<c>AddPjSharp</c> on the Generic Host, configured as
/// <c>pjsharp serve --config</c> would be: a pjsip.conf and SQLite), under mixed traffic from SIPp child processes for
/// a set time: REGISTER refreshes with digest authentication cycling through the users, OPTIONS, calls to the echo
/// application, and calls bridged by the B2BUA to a phone (SIPp) that registered like any other. Every interval it
/// prints a row: per stream the rate, failures and response-time percentiles; for the process its CPU, RSS, live managed
/// heap, pjsip's pool memory, open files and threads. At the end, the slopes after the warm-up and the verdict.
/// </summary>
/// <remarks>
/// In this process, so the managed heap and pjsip's pools can be read; SIPp's processes are children, stopped by PID.
/// Callers (SIPp) are identified by their loopback address as a trunk would be, so calls need no digest round trip;
/// registrations do the full challenge.
/// </remarks>
public static class SoakRunner
{
    /// <summary>The AOR bridged calls go to; its phone (SIPp) registers before the traffic starts and with every cycle of the users.</summary>
    public const string CalleeUser = "callee";

    public const string EchoUser = "echo";

    /// <summary>Runs the soak, printing its rows to <paramref name="output"/> (and the server's warnings to <paramref name="logEcho"/>).</summary>
    public static async Task<SoakReport> RunAsync(SoakSettings settings, TextWriter output, TextWriter? logEcho = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(output);
        if (!SippRunner.IsAvailable)
            throw new InvalidOperationException(SippRunner.MissingMessage);
        var root = Directory.CreateTempSubdirectory("pjsharp-soak-").FullName;
        try
        {
            return await RunInAsync(root, settings, output, new SoakLog { Echo = logEcho }, cancellationToken).ConfigureAwait(false);
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
        }
    }

    private static string MallocArenasText() => PjSharp.Interop.MallocArenas.Applied is { } arenas
        ? string.Create(CultureInfo.InvariantCulture, $"{arenas}{(Environment.GetEnvironmentVariable(PjSharp.Interop.MallocArenas.EnvironmentVariable) != null ? " (MALLOC_ARENA_MAX)" : " (PjSharp:MallocArenas)")}")
        : "glibc's default (8 per core)";

    private static async Task<SoakReport> RunInAsync(string root, SoakSettings settings, TextWriter output, SoakLog log, CancellationToken cancellationToken)
    {
        var users = Enumerable.Range(0, settings.Users).Select(i => string.Create(CultureInfo.InvariantCulture, $"u{i:D5}")).ToList();
        var config = Path.Combine(root, "pjsip.conf");
        await File.WriteAllTextAsync(config, Configuration([.. users, CalleeUser]), cancellationToken).ConfigureAwait(false);
        var database = Path.Combine(root, "pjsharp.db");

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddProvider(log);
        builder.Services.AddPjSharp(options =>
        {
            options.Transports.Add("udp:127.0.0.1:0");
            options.ConfigFile = config;
            options.Database = database;
            options.WorkerThreads = settings.Workers;
            // One address sends all the traffic: more than any phone would.
            options.Security.MaxUnidentifiedRequests = 100_000_000;
            options.Security.MaxFailedAuthentications = 100_000_000;
            options.Sessions.RtpPortStart = settings.RtpPortStart;
            options.Sessions.RtpPortEnd = settings.RtpPortEnd;
        });
        using var host = builder.Build();
        var clock = Stopwatch.StartNew();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var server = host.Services.GetRequiredService<HostedServer>();
            var udp = server.Transports.First(t => t.Protocol == SipTransportProtocol.Udp).LocalEndPoint;
            var target = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{udp.Port}");
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"server: in this process (pid {Environment.ProcessId}), udp {target}, {settings.Workers} worker(s), {settings.Users} users + {CalleeUser}, started in {clock.Elapsed.TotalSeconds:0.0} s; malloc arenas: {MallocArenasText()}; {SippRunner.Version}; {Environment.ProcessorCount} CPUs"))
                .ConfigureAwait(false);

            var calleePort = SippRunner.FreeUdpPort();
            var registerPort = SippRunner.FreeUdpPort();
            var injection = Path.Combine(root, "users.csv");
            var lines = new List<string> { "SEQUENTIAL", UserLine(CalleeUser, settings.RegisterExpires, calleePort) };
            lines.AddRange(users.Select(u => UserLine(u, settings.RegisterExpires, registerPort)));
            await File.WriteAllLinesAsync(injection, lines, cancellationToken).ConfigureAwait(false);
            await RegisterCalleeAsync(root, target, settings, calleePort).ConfigureAwait(false);
            var traffic = new TrafficPlan(target, injection, registerPort, calleePort);

            if (settings.Calibrate)
                settings = await CalibrateAsync(settings, traffic, output, cancellationToken).ConfigureAwait(false);

            var streams = new List<SoakTraffic>();
            try
            {
                var seconds = Seconds(settings.Duration);
                var baseline = Sample(0, TimeSpan.Zero, TimeSpan.Zero, server, database, log, settings, default, [], null);
                streams = await StartTrafficAsync(settings, traffic, seconds).ConfigureAwait(false);
                var names = streams.Select(s => s.Name).ToList();
                await output.WriteLineAsync(SoakReport.Header(names)).ConfigureAwait(false);
                await output.WriteLineAsync(SoakReport.FormatRow(baseline)).ConfigureAwait(false);

                var rows = new List<SoakRow>();
                var started = Stopwatch.StartNew();
                var previous = baseline;
                var count = Math.Max(1, (int)Math.Ceiling(settings.Duration / settings.Interval));
                // A server that has lost control of its memory is stopped before it takes the machine down with it.
                using var guard = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                string? stopped = null;
                var watch = WatchMemoryAsync(settings.MaxResidentBytes, guard, reason => stopped = reason);
                try
                {
                    for (var index = 1; index <= count; index++)
                    {
                        var due = TimeSpan.FromTicks(Math.Min(settings.Interval.Ticks * index, settings.Duration.Ticks));
                        var wait = due - started.Elapsed;
                        if (wait > TimeSpan.Zero)
                            await Task.Delay(wait, guard.Token).ConfigureAwait(false);
                        var row = Sample(index, started.Elapsed, started.Elapsed - previous.At, server, database, log, settings, previous.Process.ProcessorTime,
                            [.. streams.Select(s => s.Sample())], previous);
                        rows.Add(row);
                        previous = row;
                        await output.WriteLineAsync(SoakReport.FormatRow(row)).ConfigureAwait(false);
                        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (stopped != null && !cancellationToken.IsCancellationRequested)
                {
                    await output.WriteLineAsync($"stopped: {stopped}").ConfigureAwait(false);
                }
                finally
                {
                    await guard.CancelAsync().ConfigureAwait(false);
                    await watch.ConfigureAwait(false);
                }

                // SIPp places its last calls at the end of the run; they finish a hold (and a BYE) later.
                if (stopped != null)
                {
                    foreach (var stream in streams)
                        await stream.StopAsync().ConfigureAwait(false);
                }
                var totals = await FinishAsync(streams, settings).ConfigureAwait(false);
                var report = new SoakReport
                {
                    Settings = settings,
                    StreamNames = names,
                    Baseline = baseline,
                    Rows = rows,
                    Totals = totals,
                    LoggedProblems = log.First,
                    Warnings = log.Warnings,
                    Errors = log.Errors,
                    Stopped = stopped,
                };
                await output.WriteLineAsync(report.FormatSummary()).ConfigureAwait(false);
                return report;
            }
            finally
            {
                foreach (var stream in streams)
                    await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(stop.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Reads this process's RSS every few seconds; past <paramref name="limit"/> it says why and cancels <paramref name="guard"/>.</summary>
    private static async Task WatchMemoryAsync(long limit, CancellationTokenSource guard, Action<string> stop)
    {
        try
        {
            while (!guard.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), guard.Token).ConfigureAwait(false);
                var resident = ProcessFigures.ReadCurrent(collect: false).ResidentBytes;
                if (limit > 0 && resident > limit)
                {
                    stop(string.Create(CultureInfo.InvariantCulture, $"RSS {resident / (1024.0 * 1024 * 1024):0.0} GiB passed the limit of {limit / (1024.0 * 1024 * 1024):0.0} GiB"));
                    await guard.CancelAsync().ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Where the traffic goes and the ports the phones' contacts name.</summary>
    private sealed record TrafficPlan(string Target, string Injection, int RegisterPort, int CalleePort);

    /// <summary>
    /// Finds the rates that load this process's core to <see cref="SoakSettings.TargetLoad"/>: the mix runs at
    /// <see cref="SoakSettings.CalibrationScale"/> of its rates while its CPU is measured (after the first registrations),
    /// the rates are scaled by the ratio to the target, and a second pass at those rates corrects the estimate (CPU per
    /// request falls as the rate rises: pjsip handles more per poll, commits group more writes). A pass that lost calls
    /// or retransmitted measured a starved or overloaded server, not the mix's cost: it is repeated at lower rates.
    /// </summary>
    private static async Task<SoakSettings> CalibrateAsync(SoakSettings settings, TrafficPlan traffic, TextWriter output, CancellationToken cancellationToken)
    {
        const int MaxPasses = 6;
        var factor = settings.CalibrationScale;
        var trusted = 0;
        for (var pass = 1; trusted < 2; pass++)
        {
            if (pass > MaxPasses)
            {
                throw new InvalidOperationException(
                    $"calibration: {MaxPasses} passes and no two clean ones; the machine is too busy to measure (give the rates and --no-calibrate, or run later)");
            }
            var probe = settings.Scaled(factor);
            var (share, totals) = await MeasureLoadAsync(probe, traffic, cancellationToken).ConfigureAwait(false);
            var lost = totals.Sum(t => t.Lost);
            var retransmissions = totals.Sum(t => t.Retransmissions);
            var clean = lost == 0 && retransmissions <= totals.Sum(t => t.Successful) / 1000 && share > 0;
            var outcome = clean
                ? "clean"
                : $"{lost} calls lost, {retransmissions} retransmissions: not used (the server was starved or overloaded)";
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"calibration {pass}: {settings.CalibrationTime.TotalSeconds:0} s at REGISTER {probe.RegisterRate:0}, OPTIONS {probe.OptionsRate:0}, echo {probe.EchoRate:0}, bridged {probe.BridgeRate:0} per second ({factor:P0} of the given rates): {share:P0} of a core after {settings.CalibrationSkip.TotalSeconds:0} s, {outcome}; load average {ProcessFigures.LoadAverage():0.00}"))
                .ConfigureAwait(false);
            if (!clean)
            {
                factor *= 0.8;
                continue;
            }
            trusted++;
            // One pass moves the rates at most this far: a measurement off by much is better corrected by the next.
            factor = Math.Clamp(factor * settings.TargetLoad / share, factor * 0.5, factor * 1.6);
        }
        var scaled = settings.Scaled(factor) with { Calibrate = false };
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"calibrated for {settings.TargetLoad:P0} of a core ({factor:P0} of the given rates): REGISTER {scaled.RegisterRate:0}, OPTIONS {scaled.OptionsRate:0}, echo {scaled.EchoRate:0}, bridged {scaled.BridgeRate:0} per second "
            + $"(by the ladders' maxima {scaled.EstimatedLoad:P0} of one core)"))
            .ConfigureAwait(false);
        return scaled;
    }

    /// <summary>Runs the mix for <see cref="SoakSettings.CalibrationTime"/>; this process's share of a core after <see cref="SoakSettings.CalibrationSkip"/>.</summary>
    private static async Task<(double Share, List<StreamTotal> Totals)> MeasureLoadAsync(SoakSettings probe, TrafficPlan traffic, CancellationToken cancellationToken)
    {
        var streams = await StartTrafficAsync(probe, traffic, Seconds(probe.CalibrationTime)).ConfigureAwait(false);
        try
        {
            var clock = Stopwatch.StartNew();
            await Task.Delay(probe.CalibrationSkip, cancellationToken).ConfigureAwait(false);
            var cpuFrom = ProcessFigures.ReadCurrent(collect: false).ProcessorTime;
            var from = clock.Elapsed;
            await Task.Delay(probe.CalibrationTime - probe.CalibrationSkip, cancellationToken).ConfigureAwait(false);
            var share = (ProcessFigures.ReadCurrent(collect: false).ProcessorTime - cpuFrom) / (clock.Elapsed - from);
            return (share, await FinishAsync(streams, probe).ConfigureAwait(false));
        }
        finally
        {
            foreach (var stream in streams)
                await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Starts SIPp for every stream with a rate: each places rate x seconds calls, then exits.</summary>
    private static async Task<List<SoakTraffic>> StartTrafficAsync(SoakSettings settings, TrafficPlan plan, int seconds)
    {
        var streams = new List<SoakTraffic>();
        try
        {
            if (settings.RegisterRate > 0)
            {
                streams.Add(new SoakTraffic("REGISTER", SippRunner.Start(
                    Client(settings, "soak-register-uac.xml", plan.Target, settings.RegisterRate, Calls(settings.RegisterRate, seconds), seconds) with
                    {
                        LocalPort = plan.RegisterPort,
                        ExtraArguments = ["-inf", plan.Injection, "-l", Limit(settings.RegisterRate, TimeSpan.Zero), .. ResponseTimes(settings.RegisterRate)],
                    })));
            }
            if (settings.OptionsRate > 0)
            {
                streams.Add(new SoakTraffic("OPTIONS", SippRunner.Start(
                    Client(settings, "soak-options-uac.xml", plan.Target, settings.OptionsRate, Calls(settings.OptionsRate, seconds), seconds) with
                    {
                        ExtraArguments = ["-l", Limit(settings.OptionsRate, TimeSpan.Zero), .. ResponseTimes(settings.OptionsRate)],
                    })));
            }
            if (settings.EchoRate > 0)
            {
                streams.Add(new SoakTraffic("echo", SippRunner.Start(
                    CallClient(settings, plan.Target, EchoUser, settings.EchoRate, Calls(settings.EchoRate, seconds), seconds))));
            }
            var bridgeCalls = Calls(settings.BridgeRate, seconds);
            if (bridgeCalls > 0)
            {
                // The phone bridged calls ring: it answers every one of them, then exits.
                var callee = SippRunner.Start(Client(settings, "call-uas-answer.xml", plan.Target, 0, bridgeCalls, seconds) with
                {
                    LocalPort = plan.CalleePort,
                    ExtraArguments = ["-l", Limit(settings.BridgeRate, settings.Hold)],
                });
                try
                {
                    await WaitListeningAsync(callee, plan.CalleePort).ConfigureAwait(false);
                }
                catch
                {
                    await callee.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
                streams.Add(new SoakTraffic("bridged", SippRunner.Start(
                    CallClient(settings, plan.Target, CalleeUser, settings.BridgeRate, bridgeCalls, seconds)), callee));
            }
            return streams;
        }
        catch
        {
            foreach (var stream in streams)
                await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<List<StreamTotal>> FinishAsync(List<SoakTraffic> streams, SoakSettings settings)
    {
        var totals = new List<StreamTotal>();
        foreach (var stream in streams)
            totals.Add(await stream.FinishAsync(settings.Hold + settings.ReceiveTimeout + TimeSpan.FromSeconds(30)).ConfigureAwait(false));
        return totals;
    }

    private static int Seconds(TimeSpan time) => Math.Max(1, (int)Math.Round(time.TotalSeconds));

    private static SoakRow Sample(int index, TimeSpan at, TimeSpan length, HostedServer server, string database, SoakLog log, SoakSettings settings,
        TimeSpan processorBefore, IReadOnlyList<StreamInterval> streams, SoakRow? previous)
    {
        var process = ProcessFigures.ReadCurrent(settings.CollectBeforeSample);
        var cpu = previous != null && length > TimeSpan.Zero ? (process.ProcessorTime - processorBefore) / length : 0;
        var endpoint = server.Endpoint;
        var memory = endpoint.PoolMemory;
        var pools = new PoolFigures(endpoint.PoolsInUse, memory.CapacityBytes, memory.UsedBytes, endpoint.TransactionCount);
        return new SoakRow(index, at, length, ProcessFigures.LoadAverage(), cpu, streams, process, pools,
            DatabaseBytes(database), log.Warnings, log.Errors);
    }

    private static long DatabaseBytes(string database) =>
        new[] { database, database + "-wal", database + "-shm" }.Sum(f => File.Exists(f) ? new FileInfo(f).Length : 0);

    private static int Calls(double rate, int seconds) => (int)Math.Round(rate * seconds);

    // Room for every call in progress, with slack for a slow second.
    private static string Limit(double rate, TimeSpan hold) =>
        Math.Max(100, (int)Math.Ceiling(rate * (hold.TotalSeconds + 10))).ToString(CultureInfo.InvariantCulture);

    // SIPp appends each call's response time to <scenario>_<pid>_rtt.csv, flushing about once a second.
    private static string[] ResponseTimes(double rate) =>
        ["-trace_rtt", "-rtt_freq", Math.Max(1, (int)rate).ToString(CultureInfo.InvariantCulture)];

    private static SippOptions Client(SoakSettings settings, string scenario, string target, double rate, int calls, int seconds) => new()
    {
        Scenario = SippRunner.Scenario(scenario),
        Target = target,
        MaxCalls = calls,
        Rate = rate > 0 ? rate : 10,
        // The run itself, its last calls' hold, and room to finish.
        Timeout = TimeSpan.FromSeconds(seconds) + settings.Hold + settings.ReceiveTimeout + TimeSpan.FromSeconds(60),
        ReceiveTimeout = settings.ReceiveTimeout,
        SocketBufferSize = 4 * 1024 * 1024,
        CpuList = settings.ClientCpu,
        TraceErrors = true,
    };

    private static SippOptions CallClient(SoakSettings settings, string target, string user, double rate, int calls, int seconds) =>
        Client(settings, "call-bench-uac.xml", target, rate, calls, seconds) with
        {
            Service = user,
            ExtraArguments =
            [
                // The scenario's pause lasts -d milliseconds.
                "-d", ((long)settings.Hold.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                "-l", Limit(rate, settings.Hold),
                .. ResponseTimes(rate),
            ],
        };

    private static string UserLine(string user, int expires, int contactPort) => string.Create(CultureInfo.InvariantCulture,
        $"{user};[authentication username={user} password=pw-{user}];{expires};127.0.0.1:{contactPort}");

    /// <summary>The callee's phone registers before calls go to it: one authenticated REGISTER naming its SIPp's port.</summary>
    private static async Task RegisterCalleeAsync(string root, string target, SoakSettings settings, int calleePort)
    {
        var injection = Path.Combine(root, "callee.csv");
        await File.WriteAllLinesAsync(injection, ["SEQUENTIAL", UserLine(CalleeUser, settings.RegisterExpires, calleePort)]).ConfigureAwait(false);
        var result = await SippRunner.RunAsync(Client(settings, "soak-register-uac.xml", target, 10, 1, 1) with
        {
            Timeout = TimeSpan.FromSeconds(20),
            ExtraArguments = ["-inf", injection],
        }).ConfigureAwait(false);
        if (result.Successful != 1)
            throw new InvalidOperationException($"the callee's phone could not register: {result.Describe()}");
    }

    private static async Task WaitListeningAsync(SippRun run, int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!run.Completion.IsCompleted && DateTime.UtcNow < deadline && !SippRunner.IsListening(port))
            await Task.Delay(20).ConfigureAwait(false);
        if (run.Completion.IsCompleted)
            throw new InvalidOperationException($"the callee's SIPp exited before listening: {(await run.Completion.ConfigureAwait(false)).Describe()}");
    }

    /// <summary>
    /// Every user has an endpoint (identified by its user name), an auth (password pw-USER) and a single-contact AOR;
    /// SIPp's callers are a trunk identified by the loopback address. Media is relayed (no direct media).
    /// </summary>
    public static string Configuration(IEnumerable<string> users)
    {
        ArgumentNullException.ThrowIfNull(users);
        var text = new StringBuilder("""
            [global]
            type=global
            endpoint_identifier_order=username,ip

            [loopback]
            type=endpoint
            context=default
            allow=ulaw,alaw
            direct_media=no

            [loopback]
            type=identify
            endpoint=loopback
            match=127.0.0.0/8

            [phone](!)
            type=endpoint
            context=default
            allow=ulaw,alaw
            direct_media=no

            [phone-aor](!)
            type=aor
            max_contacts=1
            remove_existing=yes

            """);
        foreach (var user in users)
            text.Append(CultureInfo.InvariantCulture, $"\n[{user}](phone)\nauth={user}\naors={user}\n\n[{user}]\ntype=auth\nusername={user}\npassword=pw-{user}\n\n[{user}](phone-aor)\n");
        return text.ToString();
    }
}
