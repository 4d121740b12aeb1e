using System.Diagnostics;

namespace PjSharp.Bindings.Generator.Clang;

/// <summary>
/// Finds the freestanding headers (stddef.h, stdarg.h, limits.h) of the C compiler that builds
/// libpjsharp, so the headers are parsed with the same definitions the shim is compiled with.
/// clang answers <c>-print-resource-dir</c>; gcc answers <c>-print-file-name=include</c>, whose
/// parent has the include/ folder libclang expects of a resource directory.
/// </summary>
internal static class CompilerHeaders
{
    public static string? ResourceDirectory()
    {
        var compiler = Environment.GetEnvironmentVariable("CC");
        if (string.IsNullOrEmpty(compiler))
            compiler = OperatingSystem.IsWindows() ? null : "cc";
        if (compiler == null)
            return null; // clang-cl style: the MSVC headers come from INCLUDE
        var resource = Ask(compiler, "-print-resource-dir");
        if (resource != null && File.Exists(Path.Combine(resource, "include", "stddef.h")))
            return resource;
        var include = Ask(compiler, "-print-file-name=include");
        if (include != null && File.Exists(Path.Combine(include, "stddef.h")))
            return Path.GetDirectoryName(include.TrimEnd('/'));
        return null;
    }

    private static string? Ask(string compiler, string question)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(compiler, question)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process == null)
                return null;
            var answer = process.StandardOutput.ReadToEnd().Trim();
            _ = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 && Path.IsPathRooted(answer) && Directory.Exists(answer) ? answer : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
