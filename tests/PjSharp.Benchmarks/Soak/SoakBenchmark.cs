using System.Globalization;
using System.Runtime.InteropServices;
using PjSharp.Testing.Sipp;
using PjSharp.Testing.Soak;

namespace PjSharp.Benchmarks.Soak;

/// <summary>
/// <c>soak</c>: mixed traffic against a PjSharp server hosted in this process for a set time (an hour by default) at
/// about 70% of what one core sustains for that mix, a row of figures a minute, and at the end the slopes of memory,
/// handles and threads and a verdict (zero failures, flat memory). The server runs on one core (the process is pinned
/// to it), SIPp on the other, as in the ladders. Exit code 0 when the verdict passes.
/// </summary>
public static class SoakBenchmark
{
    private static string Usage => string.Create(CultureInfo.InvariantCulture, $"""
        usage: PjSharp.Benchmarks soak [options]
          --minutes N          how long the traffic runs (default 60)
          --interval-seconds N a row every N seconds (default 60)
          --warmup N           rows left out of the slopes (default: a fifth of the rows, 1 to 10)
          --load F             the share of one core the calibrated rates aim at (default {SoakSettings.DefaultLoad})
          --no-calibrate       run the rates as given (by default two passes of {new SoakSettings().CalibrationTime.TotalSeconds:0} s first measure the
                               server's CPU under the mix, at half its rates and then at the estimate,
                               and scale the rates to --load)
          --register-rate R    authenticated registrations/s (default {SoakSettings.DefaultRegisterRate}; 0 = none)
          --options-rate R     OPTIONS/s (default {SoakSettings.DefaultOptionsRate})
          --echo-rate R        calls/s to echo (default {SoakSettings.DefaultEchoRate})
          --bridge-rate R      calls/s bridged to a registered phone (default {SoakSettings.DefaultBridgeRate})
                               a rate given on the command line is run as given (no calibration unless --calibrate)
          --calibrate          calibrate even with rates given: they set the mix's proportions
          --register-max R, --options-max R, --echo-max R, --bridge-max R
                               each stream's highest rate alone on one core, for the ladders' estimate printed beside
                               the rates (defaults 5000, 30000, 3500, 1250: the ladders on the 2-core development machine)
          --users N            users cycling through REGISTER (default 10000)
          --hold-ms N          call hold time (default 1000)
          --workers N          pjsip worker threads (default 1)
          --server-cpu L       CPUs for this process, the server (default 0; "" = not pinned)
          --client-cpu L       CPUs for SIPp (default 1; "" = not pinned)
          --max-rss-gb N       stop (and fail) when the server's RSS passes N GiB (default: half the machine's memory)
          --no-gc              read the managed heap without a full collection before each row
          --log                print the server's warnings and errors as they happen
        """);

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        SoakSettings settings;
        string? serverCpu;
        bool echoLog;
        try
        {
            (settings, serverCpu, echoLog) = Parse(args.SkipWhile(a => a == "soak").ToArray());
        }
        catch (FormatException error)
        {
            await Console.Error.WriteLineAsync($"soak: {error.Message}\n\n{Usage}");
            return 2;
        }
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Usage);
            return 0;
        }
        if (!SippRunner.IsAvailable)
        {
            await Console.Error.WriteLineAsync($"soak: {SippRunner.MissingMessage}");
            return 1;
        }
        var pinned = !string.IsNullOrEmpty(serverCpu) && CpuAffinity.PinProcess(serverCpu);
        Console.WriteLine($"Soak: {settings.Describe()}");
        if (settings.Calibrate)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"these rates give the mix's proportions: a calibration scales them to {settings.TargetLoad:P0} of the server's core"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"server CPUs {(pinned ? serverCpu : "not pinned")}, SIPp CPUs {settings.ClientCpu ?? "not pinned"}; load average at start {ProcessFigures.LoadAverage():0.00}; warm-up {settings.WarmupRows} rows"));
        Console.WriteLine("per row: min = minutes since traffic began; load = 1-minute load average; cpu = this process's CPU over the row, share of one core;");
        Console.WriteLine("  per stream: completed/s, failures, response-time percentiles (SIPp, whole ms; REGISTER from the first REGISTER to the 200,");
        Console.WriteLine("  challenge included; calls INVITE to 200; bridged failures include the answering phone's); retr = retransmissions;");
        Console.WriteLine($"  RSS; heap = live managed heap{(settings.CollectBeforeSample ? " after a full collection" : " (no collection forced)")}; pool = bytes pjsip's pools in use reserve;");
        Console.WriteLine("  pools = pools in use; tsx = pjsip transactions; fds = open descriptors; thr = threads; db = SQLite files; warn/err = server log lines so far");
        // Ctrl-C or SIGTERM ends the soak cleanly: SIPp stopped by PID, the server stopped.
        using var stop = new CancellationTokenSource();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
        try
        {
            var report = await SoakRunner.RunAsync(settings, Console.Out, echoLog ? Console.Error : null, stop.Token);
            return report.Passed ? 0 : 1;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("soak: stopped by a signal");
            return 130;
        }
    }

    private static (SoakSettings Settings, string? ServerCpu, bool EchoLog) Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h" or "--no-gc" or "--log" or "--no-calibrate" or "--calibrate")
            {
                flags.Add(arg);
                continue;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal))
                throw new FormatException($"unexpected argument '{arg}'");
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
                values[arg[2..equals]] = arg[(equals + 1)..];
            else if (i + 1 < args.Length)
                values[arg[2..]] = args[++i];
            else
                throw new FormatException($"{arg} needs a value");
        }
        double Number(string name, double fallback)
        {
            if (!values.Remove(name, out var text))
                return fallback;
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= 0
                ? value
                : throw new FormatException($"--{name}: '{text}' is not a non-negative number");
        }
        string? Cpus(string name, string fallback) => values.Remove(name, out var text) ? (text.Length == 0 ? null : text) : fallback;

        var settings = new SoakSettings();
        var ratesGiven = new[] { "register-rate", "options-rate", "echo-rate", "bridge-rate" }.Any(values.ContainsKey);
        settings = settings with
        {
            RegisterMax = Number("register-max", settings.RegisterMax),
            OptionsMax = Number("options-max", settings.OptionsMax),
            EchoMax = Number("echo-max", settings.EchoMax),
            BridgeMax = Number("bridge-max", settings.BridgeMax),
            TargetLoad = Number("load", settings.TargetLoad),
            Calibrate = flags.Contains("--calibrate") || (!ratesGiven && !flags.Contains("--no-calibrate")),
        };
        if (settings.TargetLoad <= 0)
            throw new FormatException("--load must be positive");
        var minutes = Number("minutes", 60);
        var interval = Number("interval-seconds", 60);
        if (minutes <= 0 || interval <= 0)
            throw new FormatException("--minutes and --interval-seconds must be positive");
        settings = settings with
        {
            Duration = TimeSpan.FromMinutes(minutes),
            Interval = TimeSpan.FromSeconds(interval),
            RegisterRate = Number("register-rate", settings.RegisterRate),
            OptionsRate = Number("options-rate", settings.OptionsRate),
            EchoRate = Number("echo-rate", settings.EchoRate),
            BridgeRate = Number("bridge-rate", settings.BridgeRate),
            Users = (int)Number("users", settings.Users),
            Hold = TimeSpan.FromMilliseconds(Number("hold-ms", settings.Hold.TotalMilliseconds)),
            Workers = Math.Max(1, (int)Number("workers", settings.Workers)),
            ClientCpu = Cpus("client-cpu", "1"),
            CollectBeforeSample = !flags.Contains("--no-gc"),
        };
        if (values.ContainsKey("max-rss-gb"))
            settings = settings with { MaxResidentBytes = (long)(Number("max-rss-gb", 0) * 1024 * 1024 * 1024) };
        if (settings.Users < 1)
            throw new FormatException("--users must be at least 1");
        var rows = (int)Math.Ceiling(settings.Duration / settings.Interval);
        settings = settings with { WarmupRows = (int)Number("warmup", Math.Clamp(rows / 5, 1, 10)) };
        var serverCpu = Cpus("server-cpu", "0");
        if (serverCpu != null)
            _ = CpuAffinity.Parse(serverCpu);
        if (values.Count > 0)
            throw new FormatException($"unknown option --{values.Keys.First()}");
        return (settings, serverCpu, flags.Contains("--log"));
    }
}
