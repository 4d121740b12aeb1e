using System.Diagnostics;
using System.Text;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Cli;

/// <summary>What a finished <c>pjsharp</c> command printed, and how long it ran.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error, TimeSpan Elapsed)
{
    public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalMilliseconds:0} ms\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}";
}

/// <summary>The pjsharp command run as its own process with redirected output, as a script would run it.</summary>
internal sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly Lock _gate = new();

    private CliProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(_output, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_error, e.Data);
    }

    public string Output
    {
        get
        {
            lock (_gate)
                return _output.ToString();
        }
    }

    public string Error
    {
        get
        {
            lock (_gate)
                return _error.ToString();
        }
    }

    public Process Process => _process;

    private void Append(StringBuilder text, string? line)
    {
        if (line == null)
            return;
        lock (_gate)
            text.Append(line).Append('\n');
    }

    public static CliProcess Start(params string[] arguments)
    {
        var launch = SipTestServer.Locate();
        var info = ProcessTools.StartInfo(launch.FileName, [.. launch.PrefixArguments, .. arguments]);
        var process = new Process { StartInfo = info };
        var cli = new CliProcess(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs the command to its end (killed after <paramref name="timeout"/>).</summary>
    public static async Task<CliResult> RunAsync(TimeSpan timeout, params string[] arguments)
    {
        var clock = Stopwatch.StartNew();
        using var cli = Start(arguments);
        await cli.WaitForExitAsync(timeout);
        return new CliResult(cli._process.ExitCode, cli.Output, cli.Error, clock.Elapsed);
    }

    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            ProcessTools.KillQuietly(_process);
            Assert.Fail($"pjsharp {string.Join(' ', _process.StartInfo.ArgumentList)} did not finish within {timeout}.\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}");
        }
        // The asynchronous readers may still hold the last lines.
        _process.WaitForExit();
    }

    /// <summary>Waits until <paramref name="condition"/> holds for what the process printed.</summary>
    public async Task WaitForAsync(Func<CliProcess, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(this))
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                if (condition(this))
                    return;
            }
            if (DateTime.UtcNow > deadline || _process.HasExited)
                Assert.Fail($"{what}: not seen within {timeout}.\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        ProcessTools.KillQuietly(_process);
        _process.Dispose();
    }
}
