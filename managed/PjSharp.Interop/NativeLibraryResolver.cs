using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PjSharp.Interop;

/// <summary>
/// Finds libpjsharp: <c>PJSHARP_NATIVE_PATH</c> (a file or a directory), next to the
/// application, or under <c>runtimes/&lt;rid&gt;/native</c>; then the default probing.
/// </summary>
public static class NativeLibraryResolver
{
    public const string LibraryName = "pjsharp";

    private static int s_installed;

#pragma warning disable CA2255 // The resolver must be in place before the first P/Invoke of this assembly.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install()
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);
    }

    /// <summary>Candidate paths in probing order, for diagnostics and tests.</summary>
    public static IEnumerable<string> CandidatePaths()
    {
        var fileName = OperatingSystem.IsWindows() ? "pjsharp.dll"
            : OperatingSystem.IsMacOS() ? "libpjsharp.dylib" : "libpjsharp.so";
        var configured = Environment.GetEnvironmentVariable("PJSHARP_NATIVE_PATH");
        if (!string.IsNullOrEmpty(configured))
            yield return Directory.Exists(configured) ? Path.Combine(configured, fileName) : configured;
        var baseDirectory = AppContext.BaseDirectory;
        yield return Path.Combine(baseDirectory, fileName);
        yield return Path.Combine(baseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native", fileName);
        yield return Path.Combine(baseDirectory, "runtimes", PortableRid(), "native", fileName);
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != LibraryName)
            return IntPtr.Zero;
        try
        {
            foreach (var path in CandidatePaths())
            {
                if (File.Exists(path) && NativeLibrary.TryLoad(path, out var handle))
                    return handle;
            }
            return NativeLibrary.TryLoad(libraryName, assembly, searchPath, out var fallback) ? fallback : IntPtr.Zero;
        }
#pragma warning disable CA1031 // A resolver must never throw: the runtime then reports DllNotFoundException itself.
        catch (Exception)
#pragma warning restore CA1031
        {
            return IntPtr.Zero;
        }
    }

    private static string PortableRid()
    {
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.Arm64 => "arm64",
            Architecture.X86 => "x86",
            Architecture.Arm => "arm",
            var other => other.ToString().ToLowerInvariant(),
        };
        return $"{os}-{arch}";
    }
}
