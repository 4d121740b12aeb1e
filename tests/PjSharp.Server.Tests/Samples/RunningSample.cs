using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Samples;

/// <summary>
/// A sample from samples/, run as its built executable: on a free loopback UDP port, with a database of
/// its own, from its output folder (where its pjsip.conf and appsettings.json are). Stopped by PID with SIGTERM.
/// </summary>
internal sealed class RunningSample : IAsyncDisposable
{
    private static readonly TimeSpan OutputTimeout = TimeSpan.FromSeconds(10);

    private readonly ServerProcess _process;
    private readonly DirectoryInfo _directory;

    private RunningSample(ServerProcess process, DirectoryInfo directory, int port)
    {
        _process = process;
        _directory = directory;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>The address as SIPp takes it.</summary>
    public string Target => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{EndPoint.Port}");

    /// <summary>What the sample has logged so far.</summary>
    public string Output => _process.OutputTail(400);

    public static async Task<RunningSample> StartAsync(string sample)
    {
        var executable = Locate(sample);
        var port = SippRunner.FreeUdpPort();
        var directory = Directory.CreateTempSubdirectory($"pjsharp-sample-{sample}-");
        try
        {
            var process = await ServerProcess.StartAsync(new ServerProcessOptions
            {
                FileName = executable,
                // Configuration from the command line, as a user would override the sample's defaults.
                Arguments =
                [
                    string.Create(CultureInfo.InvariantCulture, $"--PjSharp:Transports:0=udp:127.0.0.1:{port}"),
                    $"--PjSharp:Database={Path.Combine(directory.FullName, "pjsharp.db")}",
                    "--PjSharp:WorkerThreads=1",
                ],
                DisplayName = sample,
                WorkingDirectory = Path.GetDirectoryName(executable),
                // PjSharpServer's event 4001, written by the console logger once every transport listens.
                IsReadyLine = static line => line.Contains("PjSharp server started", StringComparison.Ordinal),
                ReadyTimeout = SipTestServer.ReadyTimeout,
            });
            return new RunningSample(process, directory, port);
        }
        catch
        {
            directory.Delete(recursive: true);
            throw;
        }
    }

    /// <summary>A file of samples/&lt;sample&gt;/sipp/, copied beside the tests.</summary>
    public static string Scenario(string sample, string file) => Path.Combine(AppContext.BaseDirectory, "SampleScenarios", sample, "sipp", file);

    /// <summary>Runs a SIPp client against the sample.</summary>
    public Task<SippResult> RunSippAsync(string scenario, string service = "pjsharp", int calls = 1, params string[] extra) =>
        SippRunner.RunAsync(new SippOptions
        {
            Scenario = scenario,
            Target = Target,
            Service = service,
            MaxCalls = calls,
            Timeout = TimeSpan.FromSeconds(30),
            TraceErrors = true,
            ExtraArguments = extra,
        });

    /// <summary>SIPp's account of a run and the sample's log, for a failure message.</summary>
    public string Describe(SippResult result) => $"{result.Describe()}\n--- {_process.DisplayName} ---\n{Output}";

    /// <summary>Waits until the output has a line matching <paramref name="pattern"/>; returns the match.</summary>
    public async Task<Match> WaitForOutputAsync(string pattern, int occurrences = 1)
    {
        var regex = new Regex(pattern, RegexOptions.Multiline);
        var deadline = DateTime.UtcNow + OutputTimeout;
        while (true)
        {
            var matches = regex.Matches(Output);
            if (matches.Count >= occurrences)
                return matches[occurrences - 1];
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{_process.DisplayName} did not log /{pattern}/ {occurrences} time(s){(_process.HasExited ? " (it exited)" : "")}.\n--- output ---\n{Output}");
            }
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        var stop = await _process.StopAsync(TimeSpan.FromSeconds(10));
        await _process.DisposeAsync();
        _directory.Delete(recursive: true);
        Assert.That(stop.ExitedInTime, Is.True, "the sample stops on SIGTERM");
    }

    /// <summary>
    /// artifacts/bin/&lt;sample&gt;/&lt;configuration&gt;/&lt;sample&gt;, beside this assembly's own artifacts folder
    /// (the tests project references the samples, so building the tests builds them).
    /// </summary>
    private static string Locate(string sample)
    {
        var own = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var bin = own.Parent?.Parent;
        var executable = bin == null ? null : Path.Combine(bin.FullName, sample, own.Name, sample);
        if (executable == null || !File.Exists(executable))
            Assert.Fail($"The {sample} sample is not built at {executable}: build PjSharp.sln (or tests/PjSharp.Server.Tests) first.");
        return executable!;
    }
}
