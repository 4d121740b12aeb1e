using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;

namespace PjSharp.Bindings.Generator.Tests;

/// <summary>Compiles generated output: the C side with gcc, the C# side with the SDK's own Roslyn (csc, warnings as errors).</summary>
internal static class Toolchain
{
    public const string SafeHandleStub = """
        namespace PjSharp.Interop;

        public abstract class PjSafeHandle : System.Runtime.InteropServices.SafeHandle
        {
            protected PjSafeHandle(bool ownsHandle) : base(0, ownsHandle) { }
            protected PjSafeHandle(nint handle, bool ownsHandle) : base(0, ownsHandle) => SetHandle(handle);
            public override bool IsInvalid => handle == 0;
            protected abstract void ReleaseNative(nint handle);
            protected override bool ReleaseHandle()
            {
                ReleaseNative(handle);
                return true;
            }
        }
        """;

    /// <summary>Ignores the test where gcc, csc or the reference pack is missing.</summary>
    public static (string Csc, string Pack) RequireOrIgnore()
    {
        var csc = FindCsc();
        var pack = FindReferencePack();
        if (csc == null || pack == null)
            Assert.Ignore("the SDK's csc.dll or the Microsoft.NETCore.App.Ref pack was not found");
        if (!OnPath("gcc"))
            Assert.Ignore("gcc is not installed");
        return (csc!, pack!);
    }

    /// <summary>Compiles C sources with the case's include folder and settings; runs the program; returns its output.</summary>
    public static string CompileAndRunC(GoldenCase golden, TempDirectory temp, params string[] sources)
    {
        var exe = Path.Combine(temp.Path, "program-" + Guid.NewGuid().ToString("N"));
        var arguments = new List<string> { "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I", golden.Directory };
        var options = golden.Options(temp.Path);
        if (options.SettingsFile != null)
            arguments.AddRange(SettingsFile.ReadDefines(options.SettingsFile).Select(d => "-D" + d));
        arguments.AddRange(sources);
        arguments.AddRange(["-o", exe]);
        Run("gcc", arguments);
        return Run(exe, []);
    }

    /// <summary>Compiles the generated C# of <paramref name="temp"/> into an assembly.</summary>
    public static string CompileCSharp(string csc, string pack, TempDirectory temp)
    {
        var dll = Path.Combine(temp.Path, "generated.dll");
        var arguments = new List<string>
        {
            csc, "-nologo", "-noconfig", "-target:library", "-unsafe+", "-nullable:enable", "-langversion:latest",
            "-warnaserror+", "-deterministic", "-out:" + dll,
        };
        arguments.AddRange(Directory.GetFiles(Path.Combine(pack, "ref", "net10.0"), "*.dll").Order(StringComparer.Ordinal).Select(r => "-r:" + r));
        // [LibraryImport] needs its source generator, as in any SDK build.
        arguments.AddRange(Directory.GetFiles(Path.Combine(pack, "analyzers", "dotnet", "cs"), "Microsoft.Interop.*.dll").Order(StringComparer.Ordinal).Select(a => "-analyzer:" + a));
        arguments.Add(temp.File("PjSafeHandle.cs", SafeHandleStub));
        arguments.AddRange(Directory.GetFiles(Path.Combine(temp.Path, "cs"), "*.cs").Order(StringComparer.Ordinal));
        Run("dotnet", arguments);
        return dll;
    }

    // <dotnet root>/shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll
    private static string? DotnetRoot() => Directory.GetParent(typeof(object).Assembly.Location)?.Parent?.Parent?.Parent?.FullName;

    private static string? FindCsc() => Newest(DotnetRoot(), "sdk", d => Path.Combine(d, "Roslyn", "bincore", "csc.dll"), File.Exists);

    private static string? FindReferencePack() =>
        Newest(DotnetRoot(), Path.Combine("packs", "Microsoft.NETCore.App.Ref"), d => d,
            d => Path.GetFileName(d).StartsWith($"{Environment.Version.Major}.", StringComparison.Ordinal) && Directory.Exists(Path.Combine(d, "ref", "net10.0")));

    private static string? Newest(string? root, string folder, Func<string, string> select, Func<string, bool> usable)
    {
        var parent = root == null ? null : Path.Combine(root, folder);
        if (parent == null || !Directory.Exists(parent))
            return null;
        // Version folders ("10.0.401"): the newest usable one.
        return Directory.GetDirectories(parent)
            .Where(d => usable(select(d)))
            .OrderByDescending(d => Version.TryParse(Path.GetFileName(d).Split('-')[0], out var v) ? v : new Version(0, 0))
            .ThenByDescending(d => d, StringComparer.Ordinal)
            .Select(select)
            .FirstOrDefault();
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, program)));

    private static string Run(string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"{program} failed:\n{output.Result}\n{error}");
        return output.Result;
    }
}

/// <summary>
/// End to end on every golden case: the generated C table compiled by gcc and the generated C#
/// compiled by the SDK's own Roslyn (csc, warnings as errors) must report the same sizes and offsets.
/// Skipped where gcc or the SDK compiler is missing.
/// </summary>
public class LayoutAgreementTests
{
    public static IEnumerable<GoldenCase> Cases() => GoldenCase.All();

    private const string PrintTable = """
        #include <stdio.h>
        #include <stddef.h>
        typedef struct pjsharp_layout_entry { const char *type; const char *member; size_t value; } pjsharp_layout_entry;
        int pjsharp_layout_count(void);
        const pjsharp_layout_entry *pjsharp_layout_get(int index);
        int main(void)
        {
            for (int i = 0; i < pjsharp_layout_count(); i++)
            {
                const pjsharp_layout_entry *e = pjsharp_layout_get(i);
                printf("%s|%s|%zu\n", e->type, e->member, e->value);
            }
            return pjsharp_layout_get(pjsharp_layout_count()) == NULL ? 0 : 3;
        }
        """;

    [TestCaseSource(nameof(Cases))]
    public void The_csharp_layout_equals_the_c_compiler_layout(GoldenCase golden)
    {
        var (csc, pack) = Toolchain.RequireOrIgnore();
        using var temp = new TempDirectory();
        golden.Generate(temp.Path);

        var native = Toolchain.CompileAndRunC(golden, temp, Path.Combine(temp.Path, "native", "pjsharp_layout.g.c"), temp.File("main.c", PrintTable))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        var managed = ManagedTable(Toolchain.CompileCSharp(csc, pack, temp));

        Assert.That(managed, Is.EqualTo(native));
    }

    private static List<string> ManagedTable(string dll)
    {
        var context = new AssemblyLoadContext("golden-layout", isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(dll);
            var entries = (IReadOnlyList<(string Type, string Member, long Value)>)assembly.GetType("PjSharp.Interop.GeneratedLayout", throwOnError: true)!
                .GetProperty("Entries", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
            return entries.Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Type}|{e.Member}|{e.Value}")).ToList();
        }
        finally
        {
            context.Unload();
        }
    }
}
