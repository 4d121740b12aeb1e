using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace PjSharp.Testing.Soak;

/// <summary>
/// The hosting process's resources at one moment, as /proc, the GC and glibc's malloc give them. Malloc's bytes in use
/// tell a native leak (they grow) from memory freed but kept by the allocator (RSS grows, they do not).
/// </summary>
public readonly record struct ProcessFigures(long ResidentBytes, long ManagedHeapBytes, int OpenFiles, int Threads, TimeSpan ProcessorTime,
    long MallocInUseBytes = 0, long MallocFreeBytes = 0)
{
    /// <summary>
    /// Reads this process's figures. With <paramref name="collect"/> a full blocking collection runs first, so the heap
    /// figure is what is reachable rather than what awaits collection (a leak grows the first, load the second).
    /// </summary>
    public static ProcessFigures ReadCurrent(bool collect)
    {
        if (collect)
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
        var heap = GC.GetTotalMemory(forceFullCollection: false);
        long resident = 0;
        var threads = 0;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    resident = Field(line) * 1024;
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                    threads = (int)Field(line);
            }
        }
        catch (IOException)
        {
        }
        using var self = Process.GetCurrentProcess();
        if (resident == 0)
            resident = self.WorkingSet64;
        if (threads == 0)
            threads = self.Threads.Count;
        var (inUse, free) = Malloc();
        return new ProcessFigures(resident, heap, OpenFileCount(), threads, self.TotalProcessorTime, inUse, free);
    }

    /// <summary>glibc's malloc: bytes handed out (arenas and mmapped blocks) and bytes free in its arenas; zeros elsewhere.</summary>
    private static (long InUse, long Free) Malloc()
    {
        if (!OperatingSystem.IsLinux())
            return (0, 0);
        try
        {
            var info = MallInfo2();
            return ((long)(info.uordblks + info.hblkhd), (long)info.fordblks);
        }
        catch (Exception error) when (error is EntryPointNotFoundException or DllNotFoundException)
        {
            // musl, or a glibc before 2.33.
            return (0, 0);
        }
    }

#pragma warning disable IDE1006, CA1707 // glibc's names.
    [StructLayout(LayoutKind.Sequential)]
    private struct MallocInfo
    {
        public nuint arena;
        public nuint ordblks;
        public nuint smblks;
        public nuint hblks;
        public nuint hblkhd;
        public nuint usmblks;
        public nuint fsmblks;
        public nuint uordblks;
        public nuint fordblks;
        public nuint keepcost;
    }
#pragma warning restore IDE1006, CA1707

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallocInfo MallInfo2();

    /// <summary>Open file descriptors: sockets, files, pipes, epoll and event fds.</summary>
    private static int OpenFileCount()
    {
        try
        {
            // The enumeration's own descriptor is in the list it reads; it does not count.
            return Math.Max(0, Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() - 1);
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    // "VmRSS:\t  123456 kB", "Threads:\t42"
    private static long Field(string line)
    {
        var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 2 && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
    }

    /// <summary>The 1-minute load average of the machine: other work on it shows here.</summary>
    public static double LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var load) ? load : double.NaN;
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}
