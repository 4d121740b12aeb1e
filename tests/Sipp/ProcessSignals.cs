using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PjSharp.Testing.Sipp;

/// <summary>POSIX signals to one child process, addressed by its PID.</summary>
public static partial class ProcessSignals
{
    public const int Hangup = 1;
    public const int Interrupt = 2;
    public const int Kill = 9;
    public const int Terminate = 15;

    /// <summary>
    /// Sends <paramref name="signal"/> to the process. Returns false when it has already exited
    /// or the platform has no signals (Windows), so the caller falls back to Process.Kill.
    /// </summary>
    public static bool Send(Process process, int signal)
    {
        ArgumentNullException.ThrowIfNull(process);
        if (OperatingSystem.IsWindows())
            return false;
        try
        {
            // A PID is only ours while the process has not been reaped.
            if (process.HasExited)
                return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        return SysKill(process.Id, signal) == 0;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
