using System.Globalization;
using System.Net;
using PjSharp.Testing.Sipp;

namespace PjSharp.Benchmarks.Sip;

/// <summary>
/// A server a ladder climbs against: how to start it (null when it cannot be measured, the
/// description then says why) and the request-URI user part SIPp sends to (<c>sipp -s</c>).
/// </summary>
public sealed record LadderTarget(string Name, string Description, ServerProcessOptions? Options, string Service);

/// <summary>The two servers the ladders compare: pjsharp serve and pjproject's pjsip-perf sample.</summary>
public static class LadderTargets
{
    public const string PjSharpName = "pjsharp";
    public const string PjsipPerfName = "pjsip-perf";
    public const string PjsipPerfVariable = "PJSIP_PERF";

    /// <summary>
    /// <c>pjsharp serve</c> on a free loopback UDP port with its bundled configuration, a throw-away
    /// database and the ladder's workers, pinned to the server CPUs; <paramref name="serveArguments"/>
    /// go before the user's --pjsharp-arg ones.
    /// </summary>
    public static LadderTarget PjSharp(LadderSettings settings, string service, string what, string database,
        IEnumerable<string>? serveArguments = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var launch = settings.PjSharpPath != null
            ? LaunchFromPath(settings.PjSharpPath)
            : PjSharpServer.Locate("release");
        if (launch == null)
            return new LadderTarget(PjSharpName, $"not found ({PjSharpServer.MissingMessage})", null, service);
        var options = launch.Serve(["--transport", "udp:127.0.0.1:0", "--db", Path.Combine(Path.GetTempPath(), database), "--workers", settings.Workers.ToString(CultureInfo.InvariantCulture), .. serveArguments ?? [], .. settings.PjSharpArguments], settings.ServerCpu)
            with
        {
            ReadyTimeout = TimeSpan.FromSeconds(60),
            Environment = environment ?? new Dictionary<string, string?>(),
        };
        return new LadderTarget(PjSharpName, $"{launch.Description}, --workers {settings.Workers}, {what}", options, service);
    }

    /// <summary>
    /// pjsip-perf in server mode on a free UDP port (env PJSIP_PERF or --pjsip-perf), or a target that
    /// says why it is not measured. <paramref name="service"/> picks its handler by user part.
    /// </summary>
    public static LadderTarget PjsipPerf(LadderSettings settings, string service, string what)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var path = settings.PjsipPerfPath ?? Environment.GetEnvironmentVariable(PjsipPerfVariable);
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            return new LadderTarget(PjsipPerfName, string.IsNullOrEmpty(path)
                ? $"not measured (set {PjsipPerfVariable} to the pjsip-perf binary)"
                : $"not found at {path}", null, service);
        }
        var threads = $"--thread-count={settings.Workers}";
        var options = new ServerProcessOptions
        {
            FileName = path,
            Arguments = ["-p", "0", threads, .. settings.PjsipPerfArguments],
            DisplayName = PjsipPerfName,
            CpuList = settings.ServerCpu,
            ReadyTimeout = TimeSpan.FromSeconds(20),
            // It prints its URIs, then flushes "Press <ENTER> to quit" and reads stdin.
            IsReadyLine = static line => line.Contains("Press <ENTER> to quit", StringComparison.Ordinal),
            ParseListening = ParsePjsipPerfLine,
        };
        var extra = settings.PjsipPerfArguments.Count > 0 ? " " + string.Join(' ', settings.PjsipPerfArguments) : "";
        return new LadderTarget(PjsipPerfName, $"{path}, {threads}{extra}, {what}", options, service);
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
}
