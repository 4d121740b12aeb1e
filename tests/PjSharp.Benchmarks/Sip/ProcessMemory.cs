using System.Globalization;

namespace PjSharp.Benchmarks.Sip;

/// <summary>A process's memory as /proc/&lt;pid&gt;/status gives it, in KiB (what the kernel calls kB).</summary>
public readonly record struct ProcessMemory(long ResidentKiB, long PeakResidentKiB)
{
    public double ResidentMiB => ResidentKiB / 1024.0;

    public double PeakResidentMiB => PeakResidentKiB / 1024.0;

    /// <summary>VmRSS and VmHWM of a running process; zeros when it is gone or /proc cannot be read.</summary>
    public static ProcessMemory Read(int pid)
    {
        long resident = 0, peak = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    resident = Kilobytes(line);
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    peak = Kilobytes(line);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return new ProcessMemory(resident, peak);
    }

    // "VmRSS:\t  123456 kB"
    private static long Kilobytes(string line)
    {
        var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 2 && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
    }
}
