using System.Globalization;

namespace PjSharp.Benchmarks.Sip;

/// <summary>
/// The options every rate ladder shares (steps, timing, CPUs, targets, server paths). A ladder with
/// options of its own passes a handler that claims them; its usage text goes before the common one.
/// </summary>
public sealed class LadderSettings
{
    public const string CommonUsage = """
          --start N        first rate, calls/s (default {start})
          --step N         rate increment (default {step})
          --max N          last rate (default {max})
          --seconds N      length of each step (default {seconds})
          --warmup N       seconds of warm-up at the first rate before each step, not counted (default 2)
          --keep-running   one server per target for the whole ladder (steps then carry earlier steps' transactions)
          --retries N      reruns of an unclean step before the ladder stops (default 1)
          --budget N       seconds for the whole run (default {budget})
          --workers N      pjsharp --workers and pjsip-perf --thread-count (default 1)
          --server-cpu L   taskset CPU list for the server (default 0)
          --client-cpu L   taskset CPU list for SIPp (default 1)
          --targets LIST   pjsharp,pjsip-perf (default both)
          --pjsharp PATH   pjsharp executable or its dll (default: env PJSHARP_SERVER, then the Release build)
          --pjsip-perf PATH  pjsip-perf binary (default: env PJSIP_PERF)
          --pjsharp-arg A  extra argument for pjsharp serve (repeatable)
          --pjsip-perf-arg A  extra argument for pjsip-perf, e.g. --real-sdp (repeatable)
        """;

    private LadderSettings(int start, int step, int max, int seconds, int budgetSeconds)
    {
        Start = start;
        Step = step;
        Max = max;
        Seconds = seconds;
        Budget = TimeSpan.FromSeconds(budgetSeconds);
    }

    public int Start { get; private set; }

    public int Step { get; private set; }

    public int Max { get; private set; }

    public int Seconds { get; private set; }

    public int WarmupSeconds { get; private set; } = 2;

    public int Retries { get; private set; } = 1;

    public TimeSpan Budget { get; private set; }

    public bool KeepRunning { get; private set; }

    public TimeSpan Pause { get; } = TimeSpan.FromMilliseconds(500);

    public int Workers { get; private set; } = 1;

    public string? ServerCpu { get; private set; } = "0";

    public string? ClientCpu { get; private set; } = "1";

    public HashSet<string> Targets { get; private set; } = new(StringComparer.Ordinal) { LadderTargets.PjSharpName, LadderTargets.PjsipPerfName };

    public string? PjSharpPath { get; private set; }

    public string? PjsipPerfPath { get; private set; }

    public List<string> PjSharpArguments { get; } = [];

    public List<string> PjsipPerfArguments { get; } = [];

    public bool Help { get; private set; }

    /// <summary>The usage text: the command's line, its own options, then the common ones with its defaults.</summary>
    public static string Usage(string command, string ownOptions, int start, int step, int max, int seconds, int budgetSeconds)
    {
        var common = CommonUsage
            .Replace("{start}", start.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{step}", step.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{max}", max.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{seconds}", seconds.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{budget}", budgetSeconds.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        return $"usage: {command} [options]\n{ownOptions}{common}";
    }

    /// <summary>
    /// Parses the common options. <paramref name="own"/> gets every other option with its value and
    /// returns false when it does not know it either.
    /// </summary>
    /// <exception cref="FormatException">An option is unknown, lacks its value or has a bad one.</exception>
    public static LadderSettings Parse(string[] args, int start, int step, int max, int seconds, int budgetSeconds, Func<string, string, bool>? own = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var settings = new LadderSettings(start, step, max, seconds, budgetSeconds);
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
                case "--pjsip-perf-arg": settings.PjsipPerfArguments.Add(value); break;
                case "--targets":
                    settings.Targets = new HashSet<string>(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
                    if (settings.Targets.Count == 0 || settings.Targets.Any(t => t is not (LadderTargets.PjSharpName or LadderTargets.PjsipPerfName)))
                        throw new FormatException($"--targets takes {LadderTargets.PjSharpName} and/or {LadderTargets.PjsipPerfName}");
                    break;
                default:
                    if (own == null || !own(name, value))
                        throw new FormatException($"unknown option {name}");
                    break;
            }
        }
        return settings;
    }

    public static int Positive(string name, string value)
    {
        var number = NonNegative(name, value);
        return number > 0 ? number : throw new FormatException($"{name} must be positive");
    }

    public static int NonNegative(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new FormatException($"{name} takes a whole number, not '{value}'");
}
