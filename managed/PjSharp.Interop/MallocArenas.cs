using System.Runtime.InteropServices;

namespace PjSharp.Interop;

/// <summary>
/// glibc's malloc gives each thread that meets contention an arena of its own, up to eight per
/// core, and keeps freed memory in each. pjsip's pools churn through all of them, so a busy
/// server's resident size keeps climbing though nothing leaks. Capping the arenas levels it.
/// </summary>
public static partial class MallocArenas
{
    private const int M_ARENA_MAX = -8;

    /// <summary>The environment variable glibc reads at start; when set, it wins.</summary>
    public const string EnvironmentVariable = "MALLOC_ARENA_MAX";

    /// <summary>The cap applied by <see cref="TryLimit"/>, or null when none was (glibc's default).</summary>
    public static int? Applied { get; private set; }

    /// <summary>
    /// Caps glibc's malloc arenas at <paramref name="arenas"/> unless <c>MALLOC_ARENA_MAX</c> is set.
    /// False where there is no glibc (Windows, macOS, musl) or the variable decides.
    /// </summary>
    public static bool TryLimit(int arenas)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(arenas);
        if (!OperatingSystem.IsLinux())
            return false;
        if (int.TryParse(Environment.GetEnvironmentVariable(EnvironmentVariable), out var given))
        {
            Applied = given;
            return false;
        }
        try
        {
            if (mallopt(M_ARENA_MAX, arenas) != 1)
                return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        Applied = arenas;
        return true;
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
