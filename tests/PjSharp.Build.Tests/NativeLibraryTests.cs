using System.Diagnostics;
using System.Globalization;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;

namespace PjSharp.Build.Tests;

/// <summary>
/// libpjsharp as PjSharp.Native.linux-x64 ships it: it exports exactly the functions the bindings
/// call, every symbol it imports resolves against the libraries it names, and it needs no newer
/// glibc than the READMEs state.
/// </summary>
[Platform("Linux")]
public sealed partial class NativeLibraryTests
{
    private static string Library => RepositoryPaths.File("artifacts", "native", "runtimes", "linux-x64", "native", "libpjsharp.so");

    /// <summary>The interop assembly built beside this test assembly (same configuration).</summary>
    private static string InteropAssembly =>
        RepositoryPaths.File("artifacts", "bin", "PjSharp.Interop", new DirectoryInfo(AppContext.BaseDirectory).Name, "PjSharp.Interop.dll");

    [OneTimeSetUp]
    public void RequireTheBuild()
    {
        Assert.That(File.Exists(Library), Is.True, $"{Library} is missing: run ./build.sh --target=Build first.");
        Assert.That(File.Exists(InteropAssembly), Is.True, $"{InteropAssembly} is missing: run ./build.sh --target=Build first.");
    }

    [Test]
    public void Exports_exactly_the_functions_the_bindings_call()
    {
        var called = BoundEntryPoints(InteropAssembly);
        var exported = DynamicSymbols("--defined-only").Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        TestContext.Out.WriteLine($"{called.Count} functions bound, {exported.Count} exported");

        Assert.That(called, Is.Not.Empty, "no P/Invoke into pjsharp was found in the interop assembly");
        // Some pjproject releases declare functions in their headers that they never define (2.15.1:
        // pjsip_endpt_find_tsx and four more); the bindings bind them, and nothing can export them.
        var linked = LinkedFunctions();
        Assert.That(linked, Does.Contain("pjsip_endpt_create"), "libpjsharp's symbol table is needed to tell hidden functions from undefined ones");
        var neverDefined = called.Except(exported).Where(name => !linked.Contains(name)).Order(StringComparer.Ordinal).ToList();
        if (neverDefined.Count > 0)
            TestContext.Out.WriteLine($"declared by pjproject's headers but defined nowhere: {string.Join(", ", neverDefined)}");
        Assert.Multiple(() =>
        {
            Assert.That(called.Except(exported).Except(neverDefined).Order(StringComparer.Ordinal), Is.Empty, "bound and linked but not exported");
            Assert.That(exported.Except(called).Order(StringComparer.Ordinal), Is.Empty, "exported but bound by nothing");
        });
    }

    [Test]
    public void Every_imported_symbol_resolves_against_the_libraries_it_needs()
    {
        // ldd -r performs the relocations, functions and data alike, against the NEEDED libraries.
        var output = Run("ldd", "-r", Library);
        TestContext.Out.WriteLine(output);
        Assert.That(output, Does.Not.Contain("undefined symbol").And.Not.Contain("not found"));
    }

    [Test]
    public void Needs_no_newer_glibc_than_the_readmes_state()
    {
        var required = DynamicSymbols("--undefined-only")
            .Select(s => (s.Name, Version: GlibcVersion().Match(s.Version)))
            .Where(s => s.Version.Success)
            .Select(s => (s.Name, Version: Version.Parse(s.Version.Groups[1].Value)))
            .ToList();
        Assert.That(required, Is.Not.Empty, "no versioned glibc symbol was found");
        var floor = required.Max(s => s.Version)!;
        var needing = required.Where(s => s.Version == floor).Select(s => s.Name).Order(StringComparer.Ordinal);
        TestContext.Out.WriteLine($"libpjsharp needs glibc {floor} (GLIBC_{floor}: {string.Join(", ", needing)})");

        foreach (var readme in new[] { RepositoryPaths.File("README.md"), RepositoryPaths.File("docs", "packages", "README.md") })
        {
            var stated = StatedFloor().Match(File.ReadAllText(readme));
            Assert.That(stated.Success, Is.True, $"{readme} does not state the glibc floor as \"glibc X.Y or newer\"");
            Assert.That(Version.Parse(stated.Groups[1].Value), Is.EqualTo(floor), $"{readme} states another glibc floor than libpjsharp needs");
        }
    }

    /// <summary>Entry points of every P/Invoke the assembly declares into the pjsharp library.</summary>
    private static HashSet<string> BoundEntryPoints(string assembly)
    {
        using var stream = File.OpenRead(assembly);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var handle in metadata.MethodDefinitions)
        {
            var import = metadata.GetMethodDefinition(handle).GetImport();
            if (import.Module.IsNil)
                continue;
            var module = metadata.GetString(metadata.GetModuleReference(import.Module).Name);
            if (module == "pjsharp")
                names.Add(metadata.GetString(import.Name));
        }
        return names;
    }

    /// <summary>The dynamic symbol table as nm prints it: name and version (after '@', if any).</summary>
    private static List<(string Name, string Version)> DynamicSymbols(string filter) =>
        Run("nm", "-D", filter, Library)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1])
            .Select(symbol => symbol.Split('@', 2, StringSplitOptions.RemoveEmptyEntries))
            .Select(parts => (parts[0], parts.Length > 1 ? parts[1].TrimStart('@') : ""))
            .ToList();

    /// <summary>Every function in libpjsharp's full symbol table, exported or hidden.</summary>
    private static HashSet<string> LinkedFunctions() =>
        Run("nm", "--defined-only", Library)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length == 3 && fields[1] is "T" or "t")
            .Select(fields => fields[2].Split('@', 2)[0])
            .ToHashSet(StringComparer.Ordinal);

    private static string Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            Assert.Fail($"{fileName} did not finish within 30 s");
        }
        Assert.That(process.ExitCode, Is.Zero, string.Create(CultureInfo.InvariantCulture, $"{fileName} {string.Join(' ', arguments)}: {error.Result}"));
        return output.Result + error.Result;
    }

    [GeneratedRegex(@"^GLIBC_(\d+\.\d+(?:\.\d+)?)$")]
    private static partial Regex GlibcVersion();

    [GeneratedRegex(@"glibc (\d+\.\d+) or newer")]
    private static partial Regex StatedFloor();
}
