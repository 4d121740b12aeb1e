using System.Globalization;
using System.Runtime.InteropServices;

namespace PjSharp.Benchmarks.Soak;

/// <summary>
/// Pins this process to CPUs, as <c>taskset</c> pins a child: every existing thread, and so every thread they start
/// later (a new thread inherits its creator's mask). .NET's ProcessorAffinity would set the main thread only.
/// </summary>
internal static partial class CpuAffinity
{
    /// <summary>Pins every thread to the CPUs of <paramref name="cpuList"/> ("0", "0,1", "0-1"); false when none could be.</summary>
    public static unsafe bool PinProcess(string cpuList)
    {
        var mask = Parse(cpuList);
        var pinned = 0;
        // A thread started during the first pass is caught by the second.
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                if (int.TryParse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture, out var thread)
                    && SchedSetAffinity(thread, sizeof(ulong), &mask) == 0)
                {
                    pinned++;
                }
            }
        }
        return pinned > 0;
    }

    internal static ulong Parse(string cpuList)
    {
        ArgumentException.ThrowIfNullOrEmpty(cpuList);
        ulong mask = 0;
        foreach (var part in cpuList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-');
            var first = int.Parse(range[0], CultureInfo.InvariantCulture);
            var last = range.Length > 1 ? int.Parse(range[1], CultureInfo.InvariantCulture) : first;
            if (first < 0 || last < first || last > 63)
                throw new FormatException($"CPU list '{cpuList}': {part} is not a CPU or range of CPUs 0-63");
            for (var cpu = first; cpu <= last; cpu++)
                mask |= 1UL << cpu;
        }
        return mask;
    }

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static unsafe partial int SchedSetAffinity(int thread, nint size, ulong* mask);
}
