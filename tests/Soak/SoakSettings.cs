using System.Globalization;

namespace PjSharp.Testing.Soak;

/// <summary>
/// What a soak runs: how long, how often it reports, and the rate of each stream of traffic. The default rates put
/// the server at about 70% of one core (see <see cref="EstimatedLoad"/>): each stream's share of the core is its rate
/// over the highest rate the server sustains for that traffic alone on one core (the ladders' figures,
/// <see cref="RegisterMax"/> and the others), and the shares add up.
/// </summary>
public sealed record SoakSettings
{
    /// <summary>The default rates: 1,250 REGISTER + 1,500 OPTIONS + 700 echo calls + 250 bridged calls per second.</summary>
    public const double DefaultRegisterRate = 1250;

    public const double DefaultOptionsRate = 1500;

    public const double DefaultEchoRate = 700;

    public const double DefaultBridgeRate = 250;

    /// <summary>The load the default rates aim at, as a share of one core.</summary>
    public const double DefaultLoad = 0.70;

    /// <summary>How long the traffic runs.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(60);

    /// <summary>One row of figures per interval.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Rows left out of the slopes while memory settles: transactions reach timer J's 32 s, every user has registered
    /// once, pools fill their cache, and RSS climbs towards what pjsip's pools reserve as the allocator hands out blocks
    /// whose pages were not touched before (minutes at these rates).
    /// </summary>
    public int WarmupRows { get; init; } = 10;

    /// <summary>Users u00000... with an endpoint, an auth and a single-contact AOR each; they register in turn.</summary>
    public int Users { get; init; } = 10_000;

    /// <summary>Authenticated registrations per second (REGISTER, 401, REGISTER, 200), cycling through the users.</summary>
    public double RegisterRate { get; init; } = DefaultRegisterRate;

    /// <summary>Out-of-dialog OPTIONS per second.</summary>
    public double OptionsRate { get; init; } = DefaultOptionsRate;

    /// <summary>Calls per second to the echo application (media opened and reflected).</summary>
    public double EchoRate { get; init; } = DefaultEchoRate;

    /// <summary>Calls per second bridged by the B2BUA to a registered phone (two dialogs, RTP relayed).</summary>
    public double BridgeRate { get; init; } = DefaultBridgeRate;

    /// <summary>How long each call stays up between ACK and BYE.</summary>
    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The Expires of each registration; users refresh long before it (every users/rate seconds).</summary>
    public int RegisterExpires { get; init; } = 600;

    /// <summary>pjsip worker threads of the server.</summary>
    public int Workers { get; init; } = 1;

    /// <summary>taskset CPU list for the SIPp processes; null leaves them to the scheduler.</summary>
    public string? ClientCpu { get; init; }

    /// <summary>The server's RTP ports: a range of its own, away from other servers' defaults and the ephemeral ports.</summary>
    public int RtpPortStart { get; init; } = 20000;

    public int RtpPortEnd { get; init; } = 29998;

    /// <summary>A request unanswered this long fails its call (SIPp -recv_timeout).</summary>
    public TimeSpan ReceiveTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The soak stops (and fails) when this process's RSS passes this many bytes (0: never): an overloaded server can
    /// keep pools for every retransmission until the machine runs out of memory. Default: half the machine's memory.
    /// </summary>
    public long MaxResidentBytes { get; init; } = MachineMemoryBytes() / 2;

    /// <summary>A full blocking collection before each row, so the managed heap figure is what is live, not garbage waiting.</summary>
    public bool CollectBeforeSample { get; init; } = true;

    /// <summary>
    /// Before the soak, run the mix for <see cref="CalibrationTime"/> at <see cref="CalibrationScale"/> of the rates and
    /// measure the server's CPU, then scale the rates so the server uses <see cref="TargetLoad"/> of one core: the
    /// ladders' maxima overstate what the mix sustains (at moderate rates each request costs more than at saturation, and
    /// a mix keeps more memory in flight).
    /// </summary>
    public bool Calibrate { get; init; }

    /// <summary>The share of one core the calibrated rates aim at.</summary>
    public double TargetLoad { get; init; } = DefaultLoad;

    public TimeSpan CalibrationTime { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>The CPU is measured from this point of the calibration: the first registration of each user (a create, dearer than a refresh) is over.</summary>
    public TimeSpan CalibrationSkip { get; init; } = TimeSpan.FromSeconds(20);

    public double CalibrationScale { get; init; } = 0.5;

    /// <summary>These settings with every rate multiplied by <paramref name="factor"/>.</summary>
    public SoakSettings Scaled(double factor) => this with
    {
        RegisterRate = Math.Round(RegisterRate * factor),
        OptionsRate = Math.Round(OptionsRate * factor),
        EchoRate = Math.Round(EchoRate * factor),
        BridgeRate = Math.Round(BridgeRate * factor),
    };

    /// <summary>The highest rates the server sustains for each stream alone on one core (the ladders, on the development machine).</summary>
    public double RegisterMax { get; init; } = 5000;

    public double OptionsMax { get; init; } = 30000;

    public double EchoMax { get; init; } = 3500;

    public double BridgeMax { get; init; } = 1250;

    /// <summary>The share of one core the rates should take, by the maxima: the sum of each rate over its maximum.</summary>
    public double EstimatedLoad =>
        (RegisterMax > 0 ? RegisterRate / RegisterMax : 0) + (OptionsMax > 0 ? OptionsRate / OptionsMax : 0)
        + (EchoMax > 0 ? EchoRate / EchoMax : 0) + (BridgeMax > 0 ? BridgeRate / BridgeMax : 0);

    private static long MachineMemoryBytes()
    {
        try
        {
            // "MemTotal:       24683440 kB"
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var fields = line?.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 2 } && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kib) ? kib * 1024 : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Duration.TotalMinutes:0.##} min, a row every {Interval.TotalSeconds:0} s; REGISTER {RegisterRate:0}/s over {Users} users (digest), "
        + $"OPTIONS {OptionsRate:0}/s, echo calls {EchoRate:0}/s, bridged calls {BridgeRate:0}/s, hold {Hold.TotalMilliseconds:0} ms; "
        + $"by the ladders' maxima {EstimatedLoad:P0} of one core (sum of rate/maximum; maxima REGISTER {RegisterMax:0}, OPTIONS {OptionsMax:0}, echo {EchoMax:0}, bridged {BridgeMax:0} per second)");
}
