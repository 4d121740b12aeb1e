using System.Diagnostics;
using System.Text;

namespace PjSharp.Testing.Sipp;

/// <summary>Keeps the last lines a child process printed, for failure messages.</summary>
public sealed class OutputTail
{
    private readonly Queue<string> _lines = new();
    private readonly int _capacity;
    private readonly Lock _gate = new();

    public OutputTail(int capacity = 200) => _capacity = capacity;

    /// <summary>Lines seen in all, and their characters: what the process wrote, not just what is kept.</summary>
    public long LineCount { get; private set; }

    public long CharacterCount { get; private set; }

    public void Add(string line)
    {
        lock (_gate)
        {
            LineCount++;
            CharacterCount += line.Length + 1;
            if (_lines.Count == _capacity)
                _lines.Dequeue();
            _lines.Enqueue(line);
        }
    }

    public string Text(int maxLines = int.MaxValue)
    {
        lock (_gate)
        {
            var builder = new StringBuilder();
            foreach (var line in _lines.Skip(Math.Max(0, _lines.Count - maxLines)))
                builder.AppendLine(line);
            return builder.ToString();
        }
    }

    public override string ToString() => Text();
}

/// <summary>Finds helper programs and wraps commands the way the tests and benchmarks run them.</summary>
public static class ProcessTools
{
    /// <summary>The full path of <paramref name="name"/> on PATH, or null.</summary>
    public static string? FindOnPath(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal))
            return File.Exists(name) ? Path.GetFullPath(name) : null;
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>The dotnet host running this process (or the one on PATH), to start framework-dependent apps.</summary>
    public static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
            return fromSdk;
        var current = Environment.ProcessPath;
        if (current != null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
            return current;
        return FindOnPath("dotnet") ?? "dotnet";
    }

    /// <summary>
    /// Prefixes the command with <c>taskset -c cpus</c> so every thread of the child is pinned from
    /// its first instruction (setting affinity after start would miss threads already created).
    /// Returns the command unchanged when there is nothing to pin or taskset is missing.
    /// </summary>
    public static (string FileName, IReadOnlyList<string> Arguments, bool Pinned) Pin(string fileName, IReadOnlyList<string> arguments, string? cpuList)
    {
        if (string.IsNullOrEmpty(cpuList) || OperatingSystem.IsWindows())
            return (fileName, arguments, false);
        var taskset = FindOnPath("taskset");
        if (taskset == null)
            return (fileName, arguments, false);
        return (taskset, ["-c", cpuList, fileName, .. arguments], true);
    }

    /// <summary>A start description with redirected standard streams, for children we watch and stop.</summary>
    public static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // Never inherit the test runner's stdin; pjsip-perf also quits when its stdin closes.
            RedirectStandardInput = true,
            CreateNoWindow = true,
        };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        if (workingDirectory != null)
            info.WorkingDirectory = workingDirectory;
        return info;
    }

    /// <summary>A command line for messages, quoting arguments with spaces.</summary>
    public static string Describe(ProcessStartInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        return string.Join(' ', new[] { info.FileName }.Concat(info.ArgumentList).Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));
    }

    /// <summary>Stops a child by PID: the signal first, then Kill when it has not exited within the grace period.</summary>
    /// <returns>True when it exited on its own within the grace period.</returns>
    public static async Task<bool> StopAsync(Process process, int signal, TimeSpan grace)
    {
        ArgumentNullException.ThrowIfNull(process);
        if (process.HasExited)
            return true;
        if (ProcessSignals.Send(process, signal))
        {
            using var timeout = new CancellationTokenSource(grace);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException)
            {
            }
        }
        KillQuietly(process);
        using (var reap = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await process.WaitForExitAsync(reap.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        return false;
    }

    /// <summary>Kills this one process (not its tree: we only end what we started).</summary>
    public static void KillQuietly(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: false);
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }
}
