using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace PjSharp.Testing.Sipp;

/// <summary>A transport a server said it listens on, e.g. from <c>listening udp 127.0.0.1:40123</c>.</summary>
public sealed record ListeningEndpoint(string Protocol, IPEndPoint EndPoint)
{
    /// <summary>The address as SIPp and SIP headers write it: <c>127.0.0.1:5060</c> or <c>[::1]:5060</c>.</summary>
    public string HostPort => EndPoint.AddressFamily == AddressFamily.InterNetworkV6
        ? string.Create(CultureInfo.InvariantCulture, $"[{EndPoint.Address}]:{EndPoint.Port}")
        : string.Create(CultureInfo.InvariantCulture, $"{EndPoint.Address}:{EndPoint.Port}");

    /// <summary>
    /// Parses <c>listening &lt;proto&gt; &lt;address&gt;:&lt;port&gt;</c> (IPv6 in brackets). Anything before
    /// "listening" (a log prefix) is ignored; null when the line is something else.
    /// </summary>
    public static ListeningEndpoint? Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var at = Array.IndexOf(words, "listening");
        if (at < 0 || at + 2 >= words.Length)
            return null;
        return IPEndPoint.TryParse(words[at + 2], out var endPoint) && endPoint.Port != 0
            ? new ListeningEndpoint(words[at + 1].ToLowerInvariant(), endPoint)
            : null;
    }

    public override string ToString() => $"{Protocol} {HostPort}";
}

/// <summary>How to start a server and tell when it is ready.</summary>
public sealed record ServerProcessOptions
{
    public required string FileName { get; init; }

    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>A short name for messages.</summary>
    public string DisplayName { get; init; } = "server";

    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>CPUs for <c>taskset -c</c>, e.g. "0".</summary>
    public string? CpuList { get; init; }

    public string? WorkingDirectory { get; init; }

    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>Recognises the line that says the server is ready; default: the line is exactly <c>ready</c>.</summary>
    public Func<string, bool> IsReadyLine { get; init; } = static line => line.Trim() == "ready";

    /// <summary>Reads a listening endpoint from an output line; default: <see cref="ListeningEndpoint.Parse"/>.</summary>
    public Func<string, ListeningEndpoint?> ParseListening { get; init; } = ListeningEndpoint.Parse;

    /// <summary>Stop by closing standard input instead of SIGTERM (pjsip-perf quits on end of input).</summary>
    public bool StopByClosingStandardInput { get; init; }
}

/// <summary>What stopping a server observed.</summary>
public sealed record ServerStopResult(int ExitCode, bool ExitedInTime, TimeSpan Elapsed);

/// <summary>
/// A server child process: started, awaited until it prints its ready line, stopped by PID with
/// SIGTERM (then Kill). Its output is drained continuously so a chatty server never blocks on a full pipe.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly ServerProcessOptions _options;
    private readonly OutputTail _output = new(400);
    private readonly List<ListeningEndpoint> _listening = [];
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(ServerProcessOptions options, ProcessStartInfo info)
    {
        _options = options;
        CommandLine = ProcessTools.Describe(info);
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => { if (e.Data != null) _output.Add(e.Data); };
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException("exited before it was ready"));
    }

    public int Pid { get; private set; }

    public string CommandLine { get; }

    public bool Pinned { get; private init; }

    public string DisplayName => _options.DisplayName;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<ListeningEndpoint> Listening
    {
        get
        {
            lock (_gate)
                return [.. _listening];
        }
    }

    /// <summary>CPU time the server has used so far (user + system, all threads).</summary>
    public TimeSpan ProcessorTime
    {
        get
        {
            try
            {
                _process.Refresh();
                return _process.TotalProcessorTime;
            }
            catch (InvalidOperationException)
            {
                return TimeSpan.Zero;
            }
        }
    }

    /// <summary>The last lines the server printed (stdout and stderr), for failure messages.</summary>
    public string OutputTail(int lines = 80) => _output.Text(lines);

    /// <summary>Lines and characters the server has written to its output so far.</summary>
    public (long Lines, long Characters) OutputSize => (_output.LineCount, _output.CharacterCount);

    /// <summary>Starts the server and waits for its ready line; throws with its output when it fails or times out.</summary>
    public static async Task<ServerProcess> StartAsync(ServerProcessOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (fileName, arguments, pinned) = ProcessTools.Pin(options.FileName, options.Arguments, options.CpuList);
        var info = ProcessTools.StartInfo(fileName, arguments, options.WorkingDirectory);
        foreach (var (name, value) in options.Environment)
            info.Environment[name] = value;
        var server = new ServerProcess(options, info) { Pinned = pinned };
        try
        {
            server._process.Start();
            server.Pid = server._process.Id;
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            await server._ready.Task.WaitAsync(options.ReadyTimeout, cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch (Exception error) when (error is TimeoutException or InvalidOperationException or System.ComponentModel.Win32Exception or OperationCanceledException)
        {
            var stop = server._process.HasExited || server.Pid == 0
                ? null
                : await server.StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            var exit = TryExitCode(server._process) is int code ? $"exit code {code}" : "no exit code";
            var message = $"{options.DisplayName} did not become ready ({error.Message}; {exit}{(stop == null ? "" : ", stopped")}).\n" +
                $"command: {server.CommandLine}\n--- output ---\n{server.OutputTail()}";
            server.Dispose();
            throw new InvalidOperationException(message, error);
        }
    }

    /// <summary>The first endpoint of this protocol and address family.</summary>
    public ListeningEndpoint Endpoint(string protocol, AddressFamily family = AddressFamily.InterNetwork) =>
        Listening.FirstOrDefault(e => e.Protocol.Equals(protocol, StringComparison.OrdinalIgnoreCase) && e.EndPoint.AddressFamily == family)
        ?? throw new InvalidOperationException(
            $"{DisplayName} reported no {protocol} endpoint for {family}; it reported: {string.Join(", ", Listening)}\n--- output ---\n{OutputTail()}");

    /// <summary>Sends a POSIX signal to the server by PID.</summary>
    public bool Signal(int signal) => ProcessSignals.Send(_process, signal);

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    public int? ExitCode => TryExitCode(_process);

    /// <summary>
    /// SIGTERM (or end of input), then waits up to <paramref name="grace"/> for a clean exit; kills it after that.
    /// </summary>
    public async Task<ServerStopResult> StopAsync(TimeSpan grace)
    {
        var clock = Stopwatch.StartNew();
        if (_process.HasExited)
            return new ServerStopResult(_process.ExitCode, true, TimeSpan.Zero);
        bool inTime;
        if (_options.StopByClosingStandardInput)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
            using var timeout = new CancellationTokenSource(grace);
            try
            {
                await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                inTime = true;
            }
            catch (OperationCanceledException)
            {
                await ProcessTools.StopAsync(_process, ProcessSignals.Terminate, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                inTime = false;
            }
        }
        else
        {
            inTime = await ProcessTools.StopAsync(_process, ProcessSignals.Terminate, grace).ConfigureAwait(false);
        }
        var elapsed = clock.Elapsed;
        await _process.WaitForExitAsync().ConfigureAwait(false);
        return new ServerStopResult(_process.ExitCode, inTime, elapsed);
    }

    public async ValueTask DisposeAsync()
    {
        if (Pid != 0 && !_process.HasExited)
            await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _process.Dispose();
    }

    /// <summary>Kills the server at once if it still runs.</summary>
    public void Dispose()
    {
        if (Pid != 0)
            ProcessTools.KillQuietly(_process);
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line == null)
            return;
        _output.Add(line);
        if (_ready.Task.IsCompleted)
            return;
        if (_options.ParseListening(line) is { } endpoint)
        {
            lock (_gate)
                _listening.Add(endpoint);
        }
        if (_options.IsReadyLine(line))
            _ready.TrySetResult();
    }

    private static int? TryExitCode(Process process)
    {
        try
        {
            return process.HasExited ? process.ExitCode : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}

/// <summary>A way to start the pjsharp server: program and the arguments before <c>serve</c>.</summary>
public sealed record ServerLaunch(string FileName, IReadOnlyList<string> PrefixArguments, string Description)
{
    /// <summary>Options for <c>pjsharp serve ...</c> with these serve arguments.</summary>
    public ServerProcessOptions Serve(IEnumerable<string> serveArguments, string? cpuList = null) => new()
    {
        FileName = FileName,
        Arguments = [.. PrefixArguments, "serve", .. serveArguments],
        DisplayName = "pjsharp",
        CpuList = cpuList,
    };
}

/// <summary>Finds the built pjsharp server.</summary>
public static class PjSharpServer
{
    /// <summary>Path to the pjsharp executable or pjsharp.dll, overriding the search.</summary>
    public const string EnvironmentVariable = "PJSHARP_SERVER";

    /// <summary>
    /// Env PJSHARP_SERVER; else the build output artifacts/bin/PjSharp.Server/&lt;config&gt;/ above this
    /// assembly (the caller's configuration first: a Release test runs the Release server); else a copy
    /// beside this assembly. Null when none exists.
    /// </summary>
    public static ServerLaunch? Locate(string? preferredConfiguration = null)
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(configured))
            return File.Exists(configured) ? FromPath(Path.GetFullPath(configured), $"env {EnvironmentVariable}") : null;

        var baseDirectory = new DirectoryInfo(AppContext.BaseDirectory);
        var configurations = new List<string>();
        if (!string.IsNullOrEmpty(preferredConfiguration))
            configurations.Add(preferredConfiguration.ToLowerInvariant());
        // Artifacts output puts this assembly in artifacts/bin/<project>/<config>/.
        if (baseDirectory.Parent?.Parent?.Name == "bin")
            configurations.Add(baseDirectory.Name.ToLowerInvariant());
        configurations.AddRange(["release", "debug"]);

        foreach (var start in new[] { baseDirectory.FullName, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory != null; directory = directory.Parent)
            {
                var serverBin = Path.Combine(directory.FullName, "artifacts", "bin", "PjSharp.Server");
                if (!Directory.Exists(serverBin))
                    continue;
                foreach (var configuration in configurations.Distinct(StringComparer.Ordinal))
                {
                    if (InBuildOutput(Path.Combine(serverBin, configuration)) is string found)
                        return FromPath(found, $"{configuration} build");
                }
            }
        }

        return InBuildOutput(baseDirectory.FullName) is string beside ? FromPath(beside, "copy beside the test assembly") : null;
    }

    // The command is pjsharp; its assembly may be pjsharp.dll or PjSharp.Server.dll (with a pjsharp
    // apphost beside it). A framework-dependent dll needs its runtimeconfig to run under dotnet.
    private static string? InBuildOutput(string directory)
    {
        foreach (var name in new[] { "pjsharp.dll", "PjSharp.Server.dll" })
        {
            var dll = Path.Combine(directory, name);
            if (File.Exists(dll) && File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")))
                return dll;
        }
        var apphost = Path.Combine(directory, OperatingSystem.IsWindows() ? "pjsharp.exe" : "pjsharp");
        return File.Exists(apphost) ? apphost : null;
    }

    public static string MissingMessage =>
        $"The pjsharp server was not found: build managed/PjSharp.Server (artifacts/bin/PjSharp.Server/<config>/) or set {EnvironmentVariable} to the pjsharp executable or its dll.";

    private static ServerLaunch FromPath(string path, string source) =>
        path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)
            ? new ServerLaunch(ProcessTools.DotnetHost(), [path], $"dotnet {path} ({source})")
            : new ServerLaunch(path, [], $"{path} ({source})");
}
