using System.Diagnostics;
using System.Globalization;

namespace PjSharp.Testing.Sipp;

/// <summary>SIPp transport modes with one socket for all calls (<c>-t u1|t1|l1</c>).</summary>
public enum SippTransport
{
    Udp,
    Tcp,
    Tls,
}

/// <summary>One SIPp client run: what to send, where, how many and how fast.</summary>
public sealed record SippOptions
{
    /// <summary>Scenario file; see <see cref="SippRunner.Scenario"/>.</summary>
    public required string Scenario { get; init; }

    /// <summary><c>host:port</c>, IPv6 as <c>[::1]:port</c>.</summary>
    public required string Target { get; init; }

    public SippTransport Transport { get; init; } = SippTransport.Udp;

    /// <summary>Local address for binding and for Via/From/Contact (<c>-i</c>); loopback by default.</summary>
    public string LocalAddress { get; init; } = "127.0.0.1";

    /// <summary>Local port (<c>-p</c>); null lets SIPp choose.</summary>
    public int? LocalPort { get; init; }

    /// <summary>Request-URI user part (<c>-s</c>); pjsip-perf answers "1" statefully.</summary>
    public string Service { get; init; } = "pjsharp";

    /// <summary>Calls to make before exiting (<c>-m</c>).</summary>
    public int MaxCalls { get; init; } = 1;

    /// <summary>New calls per second (<c>-r</c>).</summary>
    public double Rate { get; init; } = 10;

    /// <summary>SIPp's global timeout (<c>-timeout</c>); the run is also killed a little after it.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A call that waits longer than this for its answer fails (<c>-recv_timeout</c>); null keeps SIPp's retransmission rules.</summary>
    public TimeSpan? ReceiveTimeout { get; init; }

    /// <summary>SIPp's socket buffer size (<c>-buff_size</c>).</summary>
    public int? SocketBufferSize { get; init; }

    /// <summary>CPUs for <c>taskset -c</c>, e.g. "1".</summary>
    public string? CpuList { get; init; }

    /// <summary>Client certificate and key for <c>-t l1</c> (SIPp loads them even as a client).</summary>
    public string? TlsCertificateFile { get; init; }

    public string? TlsKeyFile { get; init; }

    /// <summary>Writes unexpected messages to errors.log in the run directory.</summary>
    public bool TraceErrors { get; init; }

    /// <summary>Keeps the run directory (statistics, screens) after the run.</summary>
    public bool KeepFiles { get; init; }

    public IReadOnlyList<string> ExtraArguments { get; init; } = [];
}

/// <summary>Starts SIPp as a child process, watches it by PID and reads its statistics file.</summary>
public static class SippRunner
{
    public const string EnvironmentVariable = "SIPP";

    private static readonly Lazy<string?> s_executable = new(() =>
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return !string.IsNullOrEmpty(configured) ? ProcessTools.FindOnPath(configured) : ProcessTools.FindOnPath("sipp");
    });

    private static readonly Lazy<string> s_version = new(ReadVersion);

    /// <summary>The sipp binary (env SIPP, else PATH), or null when it is not installed.</summary>
    public static string? Executable => s_executable.Value;

    public static bool IsAvailable => Executable != null;

    /// <summary>SIPp's version banner, e.g. "SIPp v3.6.1-SCTP-PCAP-RTPSTREAM".</summary>
    public static string Version => s_version.Value;

    /// <summary>Debian's sip-tester is built without OpenSSL, so <c>-t l1</c> is not always there.</summary>
    public static bool SupportsTls => Version.Contains("TLS", StringComparison.Ordinal);

    public static string MissingMessage =>
        "sipp was not found on PATH (or in env SIPP): install the Debian package sip-tester.";

    /// <summary>
    /// The full path of a scenario shipped in tests/Sipp: copied beside the assembly under Sipp/,
    /// or found by walking up to the checkout.
    /// </summary>
    /// <summary>A UDP port on loopback that was free a moment ago.</summary>
    public static int FreeUdpPort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Whether a UDP socket is bound to <paramref name="port"/>; /proc/net/udp lists them as "0100007F:PORT" (hex), so no probe races SIPp's bind.</summary>
    public static bool IsListening(int port)
    {
        var suffix = string.Create(System.Globalization.CultureInfo.InvariantCulture, $":{port:X4}");
        try
        {
            return File.ReadLines("/proc/net/udp").Skip(1)
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Any(f => f.Length > 1 && f[1].EndsWith(suffix, StringComparison.Ordinal));
        }
        catch (IOException)
        {
            // Unknown: the caller goes ahead rather than waiting for nothing.
            return true;
        }
    }

    public static string Scenario(string fileName)
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "Sipp", fileName);
        if (File.Exists(beside))
            return beside;
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "Sipp", fileName);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new FileNotFoundException($"SIPp scenario {fileName} is neither in {Path.GetDirectoryName(beside)} nor in a tests/Sipp folder above it.", fileName);
    }

    /// <summary>Starts SIPp; the returned run completes when SIPp exits (or is stopped past its timeout).</summary>
    public static SippRun Start(SippOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sipp = Executable ?? throw new InvalidOperationException(MissingMessage);
        var directory = Directory.CreateTempSubdirectory("pjsharp-sipp-").FullName;
        var statistics = Path.Combine(directory, "stat.csv");
        var arguments = new List<string>
        {
            "-sf", Path.GetFullPath(options.Scenario),
            "-t", options.Transport switch
            {
                SippTransport.Udp => "u1",
                SippTransport.Tcp => "t1",
                SippTransport.Tls => "l1",
                _ => throw new ArgumentOutOfRangeException(nameof(options), options.Transport, "transport"),
            },
            "-i", options.LocalAddress,
            "-s", options.Service,
            "-m", options.MaxCalls.ToString(CultureInfo.InvariantCulture),
            "-r", options.Rate.ToString("0.###", CultureInfo.InvariantCulture),
            "-timeout", Seconds(options.Timeout) + "s",
            "-nostdin",
            "-trace_stat", "-stf", statistics, "-fd", "1",
            "-trace_screen", "-screen_file", Path.Combine(directory, "screen.log"),
        };
        if (options.LocalPort is int port)
            arguments.AddRange(["-p", port.ToString(CultureInfo.InvariantCulture)]);
        if (options.ReceiveTimeout is TimeSpan receive)
            arguments.AddRange(["-recv_timeout", ((long)receive.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)]);
        if (options.SocketBufferSize is int buffer)
            arguments.AddRange(["-buff_size", buffer.ToString(CultureInfo.InvariantCulture)]);
        if (options.TlsCertificateFile != null)
            arguments.AddRange(["-tls_cert", options.TlsCertificateFile]);
        if (options.TlsKeyFile != null)
            arguments.AddRange(["-tls_key", options.TlsKeyFile]);
        if (options.TraceErrors)
            arguments.AddRange(["-trace_err", "-error_file", Path.Combine(directory, "errors.log")]);
        arguments.AddRange(options.ExtraArguments);
        arguments.Add(options.Target);

        var (fileName, pinnedArguments, _) = ProcessTools.Pin(sipp, arguments, options.CpuList);
        var info = ProcessTools.StartInfo(fileName, pinnedArguments, directory);
        return new SippRun(options, info, directory, statistics);
    }

    /// <summary>Runs SIPp to the end and returns its statistics.</summary>
    public static async Task<SippResult> RunAsync(SippOptions options, CancellationToken cancellationToken = default)
    {
        await using var run = Start(options);
        using (cancellationToken.Register(() => _ = run.StopAsync()))
            return await run.Completion.ConfigureAwait(false);
    }

    internal static string Seconds(TimeSpan time) =>
        Math.Max(1, (long)Math.Ceiling(time.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private static string ReadVersion()
    {
        var sipp = Executable;
        if (sipp == null)
            return "";
        using var process = Process.Start(ProcessTools.StartInfo(sipp, ["-v"]));
        if (process == null)
            return "";
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(5000))
            ProcessTools.KillQuietly(process);
        var text = output.GetAwaiter().GetResult() + error.GetAwaiter().GetResult();
        var line = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("SIPp v", StringComparison.Ordinal));
        return line ?? text.Trim();
    }
}

/// <summary>A running SIPp process. Dispose stops it if it is still running and deletes its files.</summary>
public sealed class SippRun : IAsyncDisposable
{
    private readonly Process _process;
    private readonly SippOptions _options;
    private readonly string _directory;
    private readonly string _statisticsFile;
    private readonly OutputTail _output = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _stopped;

    internal SippRun(SippOptions options, ProcessStartInfo info, string directory, string statisticsFile)
    {
        _options = options;
        _directory = directory;
        _statisticsFile = statisticsFile;
        CommandLine = ProcessTools.Describe(info);
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => { if (e.Data != null) _output.Add(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data != null) _output.Add(e.Data); };
        try
        {
            _process.Start();
        }
        catch
        {
            _process.Dispose();
            TryDelete(directory);
            throw;
        }
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Pid = _process.Id;
        Completion = WatchAsync();
    }

    public int Pid { get; }

    public string CommandLine { get; }

    /// <summary>The run's directory: stat.csv, screen.log, errors.log.</summary>
    public string Directory => _directory;

    /// <summary>Completes with the final statistics once SIPp has exited.</summary>
    public Task<SippResult> Completion { get; }

    /// <summary>The latest periodic statistics row (SIPp writes one a second), or null before the first.</summary>
    public SippStatistics? CurrentStatistics() => SippStatistics.TryRead(_statisticsFile);

    /// <summary>Stops SIPp early: SIGTERM makes it write its final statistics; Kill after the grace period.</summary>
    public async Task<SippResult> StopAsync(TimeSpan? grace = null)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
            await ProcessTools.StopAsync(_process, ProcessSignals.Terminate, grace ?? TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        return await Completion.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _process.Dispose();
        if (!_options.KeepFiles)
            TryDelete(_directory);
    }

    private async Task<SippResult> WatchAsync()
    {
        // SIPp honours -timeout itself; past it (plus slack) we stop it by PID.
        var limit = _options.Timeout + TimeSpan.FromSeconds(10);
        var overdue = false;
        using (var timeout = new CancellationTokenSource(limit))
        {
            try
            {
                await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                overdue = true;
                Interlocked.Exchange(ref _stopped, 1);
                await ProcessTools.StopAsync(_process, ProcessSignals.Terminate, TimeSpan.FromSeconds(3)).ConfigureAwait(false);
            }
        }
        // Let the asynchronous readers drain the last lines.
        await _process.WaitForExitAsync().ConfigureAwait(false);
        var wall = _clock.Elapsed;
        var statistics = SippStatistics.TryRead(_statisticsFile);
        return new SippResult
        {
            ExitCode = _process.ExitCode,
            Overdue = overdue,
            Statistics = statistics,
            Expected = _options.MaxCalls,
            WallTime = wall,
            CommandLine = CommandLine,
            Output = _output.Text(60),
            Screen = ReadQuietly(Path.Combine(_directory, "screen.log"), 6000),
            Errors = _options.TraceErrors ? ReadQuietly(Path.Combine(_directory, "errors.log"), 6000) : "",
        };
    }

    private static string ReadQuietly(string path, int maxChars)
    {
        try
        {
            if (!File.Exists(path))
                return "";
            var text = File.ReadAllText(path);
            return text.Length <= maxChars ? text : text[^maxChars..];
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>How a SIPp run ended.</summary>
public sealed class SippResult
{
    /// <summary>0 all calls succeeded, 1 some failed, 97 internal exit, 99 no call processed, 255/254 fatal.</summary>
    public required int ExitCode { get; init; }

    /// <summary>SIPp outlived its own timeout and was stopped by us.</summary>
    public required bool Overdue { get; init; }

    /// <summary>The final statistics row, or null when SIPp wrote none (it failed to start).</summary>
    public required SippStatistics? Statistics { get; init; }

    public required int Expected { get; init; }

    public required TimeSpan WallTime { get; init; }

    public required string CommandLine { get; init; }

    public required string Output { get; init; }

    public required string Screen { get; init; }

    public required string Errors { get; init; }

    public long Successful => Statistics?.Successful ?? 0;

    public long Failed => Statistics?.Failed ?? 0;

    public long Retransmissions => Statistics?.Retransmissions ?? 0;

    /// <summary>Calls that neither succeeded nor were counted as failed (never started or cut off).</summary>
    public long Unfinished => Math.Max(0, Expected - Successful - Failed);

    /// <summary>Failed plus unfinished calls.</summary>
    public long Lost => Failed + Unfinished;

    /// <summary>Every expected call succeeded, with no failure and no retransmission.</summary>
    public bool Clean => Statistics != null && Successful == Expected && Failed == 0 && Retransmissions == 0;

    /// <summary>Successful calls per second over SIPp's own elapsed time.</summary>
    public double AchievedRate => Statistics is { Elapsed.TotalSeconds: > 0 } s ? s.Successful / s.Elapsed.TotalSeconds : 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"exit {ExitCode}{(Overdue ? " (overdue, stopped)" : "")}, {Successful}/{Expected} successful, {Failed} failed, {Retransmissions} retransmissions, {AchievedRate:0.0}/s");

    /// <summary>Everything useful for a failure message.</summary>
    public string Describe() =>
        $"{this}\ncommand: {CommandLine}\n--- sipp output (tail) ---\n{Output}\n--- screen ---\n{Screen}" +
        (Errors.Length > 0 ? $"\n--- unexpected messages ---\n{Errors}" : "");
}

/// <summary>One row of SIPp's <c>-trace_stat</c> file, cumulative columns.</summary>
public sealed class SippStatistics
{
    private readonly Dictionary<string, string> _columns;

    private SippStatistics(Dictionary<string, string> columns) => _columns = columns;

    public IReadOnlyDictionary<string, string> Columns => _columns;

    public long Created => Count("TotalCallCreated");

    public long Successful => Count("SuccessfulCall(C)");

    public long Failed => Count("FailedCall(C)");

    public long Retransmissions => Count("Retransmissions(C)");

    public long FailedTimeoutOnReceive => Count("FailedTimeoutOnRecv(C)");

    public long FailedUnexpectedMessage => Count("FailedUnexpectedMessage(C)");

    public long FailedMaxUdpRetransmissions => Count("FailedMaxUDPRetrans(C)");

    public long OutOfCallMessages => Count("OutOfCallMsgs(C)");

    public long DeadCallMessages => Count("DeadCallMsgs(C)");

    /// <summary>Calls created per second as SIPp counts it.</summary>
    public double CallRate => double.TryParse(Value("CallRate(C)"), NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) ? rate : 0;

    /// <summary>From the start of the run to this row.</summary>
    public TimeSpan Elapsed => TimeSpan.FromSeconds(Math.Max(0, Epoch("CurrentTime") - Epoch("StartTime")));

    public long Count(string column) =>
        long.TryParse(Value(column), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;

    public string Value(string column) => _columns.TryGetValue(column, out var value) ? value : "";

    // Several rows of a scenario's statistics; a row is a few kilobytes.
    private const int TailBytes = 64 * 1024;

    /// <summary>The last complete row of the file, or null when there is none yet.</summary>
    public static SippStatistics? TryRead(string path)
    {
        string headerLine;
        string[] lines;
        try
        {
            if (!File.Exists(path))
                return null;
            // SIPp may be writing the file; share it.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            headerLine = reader.ReadLine() ?? "";
            // A long run writes a row a second for hours: only the tail holds the rows wanted.
            var tailStart = stream.Length - TailBytes;
            var midRow = false;
            if (tailStart > headerLine.Length + 1)
            {
                stream.Seek(tailStart, SeekOrigin.Begin);
                reader.DiscardBufferedData();
                midRow = true;
            }
            lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            // A seek lands mid-row: that first piece is no row.
            if (midRow && lines.Length > 0)
                lines = lines[1..];
        }
        catch (IOException)
        {
            return null;
        }
        if (headerLine.Length == 0 || lines.Length < 1)
            return null;
        var header = headerLine.Split(';');
        // The last line may be half written while SIPp runs: take the last one with every column.
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            var cells = lines[i].Split(';');
            if (cells.Length < header.Length - 1)
                continue;
            var columns = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var c = 0; c < header.Length && c < cells.Length; c++)
            {
                if (header[c].Length > 0)
                    columns[header[c]] = cells[c].Trim();
            }
            return new SippStatistics(columns);
        }
        return null;
    }

    // Times look like "2026-11-23\t08:53:36.972821\t1795424016.972821": the last field is epoch seconds.
    private double Epoch(string column)
    {
        var text = Value(column);
        var last = text.Split('\t', ' ').LastOrDefault(p => p.Length > 0) ?? "";
        return double.TryParse(last, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? seconds : 0;
    }
}
