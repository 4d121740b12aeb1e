using System.Diagnostics;
using System.Security.Cryptography;

namespace PjSharp.Build.Tests;

/// <summary>Runs the real build script (build.sh, Cake) as a user would.</summary>
[NonParallelizable]
public sealed class BuildScriptTests
{
    private static (int Exit, string Output) RunBuild(string arguments, IDictionary<string, string?> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(RepositoryPaths.File("build.sh"), arguments)
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            if (value == null)
                start.Environment.Remove(name);
            else
                start.Environment[name] = value;
        }
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"build.sh {arguments} did not finish within {timeout}.");
        }
        return (process.ExitCode, output.Result + error.Result);
    }

    [Test]
    public void Archive_with_the_wrong_hash_stops_the_build_naming_both_hashes()
    {
        var cache = Directory.CreateTempSubdirectory("pjsharp-cache-").FullName;
        var buildRoot = Directory.CreateTempSubdirectory("pjsharp-build-").FullName;
        try
        {
            var impostor = RandomNumberGenerator.GetBytes(100_000);
            File.WriteAllBytes(Path.Combine(cache, "pjproject-2.15.1.tar.gz"), impostor);

            var (exit, output) = RunBuild($"--target=Pjproject --pjproject=2.15.1 --pjproject-build-root={buildRoot}",
                new Dictionary<string, string?>
                {
                    ["PJSHARP_DOWNLOAD_CACHE"] = cache, ["PJPROJECT_ROOT"] = null, ["VCPKG_ROOT"] = null,
                }, TimeSpan.FromMinutes(3));

            Assert.That(exit, Is.Not.Zero, output);
            Assert.That(output, Does.Contain("8f3bd99caf003f96ed8038b8a36031eb9d8cd9eaea1eaff7e01c2eef6bd55706"));
            Assert.That(output, Does.Contain(Convert.ToHexStringLower(SHA256.HashData(impostor))));
            Assert.That(output, Does.Contain("To supply the archive by hand"));
            Assert.That(Directory.Exists(Path.Combine(buildRoot, "pjproject")), Is.False, "nothing was built");
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
            Directory.Delete(buildRoot, recursive: true);
        }
    }

    [Test]
    public void Unchanged_tree_rebuilds_nothing()
    {
        var library = Directory.GetFiles(RepositoryPaths.File("artifacts", "native"), "*pjsharp.*", SearchOption.AllDirectories)
            .Single(f => f.EndsWith(".so", StringComparison.Ordinal) || f.EndsWith(".dylib", StringComparison.Ordinal) || f.EndsWith(".dll", StringComparison.Ordinal));
        var before = File.GetLastWriteTimeUtc(library);

        // Same pjproject as the tree was built with: the Test target passes its choice on.
        var version = Environment.GetEnvironmentVariable("PJSHARP_PJPROJECT_VERSION");
        var (exit, output) = RunBuild("--target=Native" + (string.IsNullOrEmpty(version) ? "" : $" --pjproject={version}"),
            new Dictionary<string, string?>(), TimeSpan.FromMinutes(5));

        Assert.That(exit, Is.Zero, output);
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PJPROJECT_ROOT")) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("VCPKG_ROOT")))
            Assert.That(output, Does.Match(@"pjproject \S+ is up to date in "));
        Assert.That(output, Does.Not.Contain("Building C object"));
        Assert.That(output, Does.Not.Contain("Linking C shared library"));
        Assert.That(File.GetLastWriteTimeUtc(library), Is.EqualTo(before));
    }
}
