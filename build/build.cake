// PjSharp build: ./build.sh --target=<Target>  (Native, Generate, Build, Test, Bench, Pack, PublicApi, Run; default Test)
using System.Text.RegularExpressions;
using System.Xml.Linq;
#load "lib/Pjproject.cs"

var target = Argument("target", "Default");
var configuration = Argument("configuration", "Release");
var benchArgs = Argument("bench", "all");
var serveArgs = Argument("serve", "");

var root = MakeAbsolute(Directory("..")).FullPath;
var artifacts = $"{root}/artifacts";
var generatedCs = $"{artifacts}/obj/PjSharp.Interop/generated";
var generatedNative = $"{artifacts}/obj/native-generated";
var rid = RuntimeRid();
var nativeOut = $"{artifacts}/native/runtimes/{rid}/native";
var testResults = $"{artifacts}/test-results";
var configLower = configuration.ToLowerInvariant();

// pjproject comes from PJPROJECT_ROOT (a user's own build), else vcpkg (VCPKG_ROOT), else the
// build compiles the pinned release (--pjproject=<version>, default the first line of
// native/pjproject-releases.txt) from the download cache into artifacts/pjproject/<version>-<key>.
var pjprojectVersion = Argument("pjproject", EnvironmentVariable("PJSHARP_PJPROJECT_VERSION") ?? "");
var settingsFile = $"{root}/native/pjproject-settings.cmake";
// Where pjproject builds are kept (artifacts/pjproject/<version>-<key>); tests point it elsewhere.
var pjprojectBuildRoot = MakeAbsolute(Directory(Argument("pjproject-build-root", artifacts))).FullPath;

enum PjprojectOrigin { UserPrefix, Vcpkg, FromSource }

PjprojectOrigin Origin() =>
    !string.IsNullOrEmpty(EnvironmentVariable("PJPROJECT_ROOT")) ? PjprojectOrigin.UserPrefix
    : !string.IsNullOrEmpty(EnvironmentVariable("VCPKG_ROOT")) ? PjprojectOrigin.Vcpkg
    : PjprojectOrigin.FromSource;

PjprojectRecipe? recipe = null;
PjprojectRecipe Recipe() => recipe ??= new PjprojectRecipe(
    PjprojectRelease.Select(PjprojectRelease.ReadPinned($"{root}/native/pjproject-releases.txt"), pjprojectVersion),
    PjprojectRecipe.ReadDefines(settingsFile));

string PjprojectPrefix() => Origin() switch {
    PjprojectOrigin.UserPrefix => EnvironmentVariable("PJPROJECT_ROOT"),
    PjprojectOrigin.Vcpkg => $"{artifacts}/vcpkg_installed/{VcpkgTriplet()}",
    _ => Recipe().InstallPrefix(pjprojectBuildRoot),
};

// One CMake tree per pjproject install, so a rebuilt pjproject relinks the shim.
string NativeBuildDirectory() => $"{artifacts}/obj/native/" + (Origin() == PjprojectOrigin.FromSource
    ? Recipe().NativeBuildName
    : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(PjprojectPrefix())))[..12]);

string VcpkgTriplet() => IsRunningOnWindows() ? "x64-windows-pjsharp"
    : IsRunningOnMacOs() ? "arm64-osx-pjsharp" : "x64-linux-pjsharp";

string RuntimeRid() => IsRunningOnWindows() ? "win-x64"
    : IsRunningOnMacOs() ? "osx-arm64"
    : System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";

string Run(string file, string args, string? workingDirectory = null, bool capture = false, IDictionary<string, string>? env = null)
{
    var settings = new ProcessSettings {
        Arguments = args,
        WorkingDirectory = workingDirectory ?? root,
        RedirectStandardOutput = capture,
        EnvironmentVariables = env,
    };
    var exit = StartProcess(file, settings, out var output);
    if (exit != 0)
        throw new CakeException($"'{file} {args}' failed with exit code {exit}." + (capture ? "\n" + string.Join("\n", output) : ""));
    return capture ? string.Join("\n", output) : "";
}

// Runs a long, noisy step with its output in a log file; on failure shows the log's end.
void RunLogged(string step, string command, string workingDirectory, IDictionary<string, string> env, string logFile)
{
    var exit = StartProcess("sh", new ProcessSettings {
        Arguments = new ProcessArgumentBuilder().Append("-c").AppendQuoted($"{command} >>'{logFile}' 2>&1"),
        WorkingDirectory = workingDirectory,
        EnvironmentVariables = env,
    });
    if (exit != 0)
    {
        var tail = System.IO.File.ReadLines(logFile).TakeLast(40);
        throw new CakeException($"{step} failed (exit code {exit}); the last lines of {logFile}:\n" + string.Join("\n", tail));
    }
}

IDictionary<string, string> PkgConfigEnv() => new Dictionary<string, string> {
    ["PKG_CONFIG_PATH"] = $"{PjprojectPrefix()}/lib/pkgconfig:{EnvironmentVariable("PKG_CONFIG_PATH") ?? ""}",
};

// What the build and the tests need from the system, with the Debian package that brings each.
record Prerequisite(string What, string DebianPackage, Func<bool> Present);

bool OnPath(string tool) => (EnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
    .Any(dir => System.IO.File.Exists(System.IO.Path.Combine(dir, tool)));

Prerequisite[] BuildPrerequisites() => new[] {
    new Prerequisite("cmake", "cmake", () => OnPath("cmake")),
    new Prerequisite("a C compiler (cc)", "gcc", () => OnPath("cc")),
    new Prerequisite("make", "make", () => OnPath("make")),
    new Prerequisite("pkg-config", "pkg-config", () => OnPath("pkg-config")),
    new Prerequisite("OpenSSL headers", "libssl-dev", () => System.IO.File.Exists("/usr/include/openssl/ssl.h")
        || (OnPath("pkg-config") && StartProcess("pkg-config", "--exists openssl") == 0)),
    new Prerequisite("Opus headers (the WebRTC audio codec)", "libopus-dev", () => System.IO.File.Exists("/usr/include/opus/opus.h")
        || (OnPath("pkg-config") && StartProcess("pkg-config", "--exists opus") == 0)),
};

Prerequisite[] TestPrerequisites() => new[] {
    new Prerequisite("SIPp (sipp)", "sip-tester", () => OnPath("sipp")),
    new Prerequisite("PostgreSQL", "postgresql", () => OnPath("pg_lsclusters") || OnPath("pg_ctl")),
    new Prerequisite("tshark (reads the SIP trace's pcap files)", "tshark", () => OnPath("tshark")),
    new Prerequisite("Chromium (the browser tests)", "chromium", () => System.IO.File.Exists("/usr/bin/chromium")),
    new Prerequisite("npm (installs the browser tests' SIP library)", "npm", () => OnPath("npm")),
    new Prerequisite("Kamailio (the load balancer of the cluster tests)", "kamailio", () => OnPath("kamailio") || System.IO.File.Exists("/usr/sbin/kamailio")),
};

// The SIP library the browser test pages load, pinned by tests/Browser/package-lock.json.
void InstallBrowserTestPackages()
{
    var folder = $"{root}/tests/Browser";
    if (System.IO.File.Exists($"{folder}/node_modules/sip.js/lib/index.js"))
        return;
    Run("npm", "ci --no-audit --no-fund", workingDirectory: folder);
}

void EnsurePrerequisites(Prerequisite[] needed)
{
    var missing = needed.Where(p => !p.Present()).ToList();
    if (missing.Count == 0)
        return;
    var packages = string.Join(" ", missing.Select(p => p.DebianPackage).Distinct());
    var what = string.Join(", ", missing.Select(p => p.What));
    var isRoot = !IsRunningOnWindows() && Environment.UserName == "root";
    if (isRoot && System.IO.File.Exists("/etc/debian_version") && OnPath("apt-get"))
    {
        Information($"Missing {what}: installing the Debian packages {packages} (apt-get install)");
        var env = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
        Run("apt-get", "update -qq", env: env);
        Run("apt-get", $"install -y -qq --no-install-recommends {packages}", env: env);
        var still = missing.Where(p => !p.Present()).Select(p => p.What).ToList();
        if (still.Count > 0)
            throw new CakeException($"Still missing after apt-get install: {string.Join(", ", still)}.");
        return;
    }
    var command = System.IO.File.Exists("/etc/debian_version") ? $"sudo apt-get install {packages}"
        : IsRunningOnMacOs() ? "brew install cmake pkg-config openssl sipp postgresql"
        : $"install {what} with your system's package manager";
    throw new CakeException($"Missing {what}. Run: {command}");
}

Task("Prerequisites")
    .Description("Checks for cmake, a C compiler, make, pkg-config and OpenSSL; as root on Debian/Ubuntu installs what is missing.")
    .Does(() =>
{
    if (IsRunningOnWindows())
        return; // the vcpkg path brings its own toolchain checks
    EnsurePrerequisites(BuildPrerequisites());
});

Task("Pjproject")
    .Description("Builds the pinned pjproject release from the download cache (or uses PJPROJECT_ROOT / vcpkg).")
    .IsDependentOn("Prerequisites")
    .Does(() =>
{
    switch (Origin())
    {
        case PjprojectOrigin.Vcpkg:
            var vcpkg = $"{EnvironmentVariable("VCPKG_ROOT")}/vcpkg" + (IsRunningOnWindows() ? ".exe" : "");
            Run(vcpkg, $"install --x-manifest-root=\"{root}\" --overlay-triplets=\"{root}/native/triplets\" --triplet {VcpkgTriplet()} --x-install-root=\"{artifacts}/vcpkg_installed\"");
            break;
        case PjprojectOrigin.FromSource:
            BuildPjprojectFromSource();
            break;
    }
    var pc = $"{PjprojectPrefix()}/lib/pkgconfig/libpjproject.pc";
    if (!FileExists(pc))
        throw new CakeException(
            $"pjproject was not found: {pc} does not exist.\n" +
            "PJPROJECT_ROOT must name the prefix of a pjproject 2.15.1+ install built with the settings in README.md.");
    var version = Run("pkg-config", "--modversion libpjproject", capture: true, env: PkgConfigEnv()).Trim();
    Information($"pjproject {version} at {PjprojectPrefix()}");
});

void BuildPjprojectFromSource()
{
    if (IsRunningOnWindows())
        throw new CakeException("On Windows the build takes pjproject from vcpkg: set VCPKG_ROOT (or PJPROJECT_ROOT to your own build).");
    var r = Recipe();
    var prefix = r.InstallPrefix(pjprojectBuildRoot);
    if (r.IsInstalled(prefix))
    {
        Information($"pjproject {r.Release.Version} is up to date in {prefix} (build key {r.Key})");
        return;
    }
    var cache = new DownloadCache(DownloadCache.DefaultDirectory(EnvironmentVariable));
    string archive;
    try
    {
        archive = cache.Obtain(r.Release, DownloadFile, message => Information(message));
    }
    catch (BuildFailureException failure)
    {
        throw new CakeException(failure.Message);
    }
    var started = System.Diagnostics.Stopwatch.StartNew();
    var work = $"{pjprojectBuildRoot}/obj/pjproject/{r.Release.Version}-{r.Key}";
    var source = $"{work}/pjproject-{r.Release.Version}";
    var log = $"{work}/build.log";
    if (DirectoryExists(work))
        DeleteDirectory(work, new DeleteDirectorySettings { Recursive = true, Force = true });
    if (DirectoryExists(prefix))
        DeleteDirectory(prefix, new DeleteDirectorySettings { Recursive = true, Force = true });
    CreateDirectory(work);
    Information($"pjproject {r.Release.Version}: building with PjSharp's settings into {prefix} (log: {log})");
    Run("tar", $"-xzf \"{archive}\" -C \"{work}\"");
    System.IO.File.WriteAllText($"{source}/pjlib/include/pj/config_site.h", r.ConfigSiteHeader);
    var env = new Dictionary<string, string> { ["CFLAGS"] = r.CFlags };
    var configure = string.Join(" ", PjprojectRecipe.ConfigureArguments(prefix).Select(a => $"'{a}'"));
    RunLogged("pjproject configure", $"./configure {configure}", source, env, log);
    RunLogged("pjproject build", $"make -j{Environment.ProcessorCount} lib", source, env, log);
    RunLogged("pjproject install", "make install", source, env, log);
    r.MarkInstalled(prefix);
    DeleteDirectory(source, new DeleteDirectorySettings { Recursive = true, Force = true });
    Information($"pjproject {r.Release.Version} built and installed in {started.Elapsed.TotalSeconds:F0} s");
}

void DownloadFile(Uri url, string file)
{
    using var http = new System.Net.Http.HttpClient { Timeout = TimeSpan.FromMinutes(10) };
    using var response = http.GetAsync(url, System.Net.Http.HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
    response.EnsureSuccessStatusCode();
    using var input = response.Content.ReadAsStream();
    using var output = System.IO.File.Create(file);
    input.CopyTo(output);
}

Task("Generate")
    .Description("Generates the pjproject bindings from the headers actually linked.")
    .IsDependentOn("Pjproject")
    .Does(() =>
{
    DotNetBuild($"{root}/bindings/PjSharp.Bindings.Generator/PjSharp.Bindings.Generator.csproj",
        new DotNetBuildSettings { Configuration = "Release", NoLogo = true });
    var cflags = Run("pkg-config", "--cflags libpjproject", capture: true, env: PkgConfigEnv()).Trim();
    var clangArgs = string.Join(" ", cflags.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(a => $"--clang-arg=\"{a}\""));
    Run("dotnet",
        $"\"{artifacts}/bin/PjSharp.Bindings.Generator/release/PjSharp.Bindings.Generator.dll\" " +
        $"--settings=native/pjproject-settings.cmake --methods=bindings/NativeMethods.txt --handles=bindings/Handles.txt " +
        $"{clangArgs} --out-cs=\"{generatedCs}\" --out-native=\"{generatedNative}\"");
});

Task("Native")
    .Description("Builds libpjsharp: pjproject linked statically, plus the shim.")
    .IsDependentOn("Generate")
    .Does(() =>
{
    var env = new Dictionary<string, string> { ["PJPROJECT_ROOT"] = PjprojectPrefix() };
    var nativeBuild = NativeBuildDirectory();
    Run("cmake", $"-S native -B \"{nativeBuild}\" -DCMAKE_BUILD_TYPE=Release -DPJSHARP_GENERATED_DIR=\"{generatedNative}\" -DPJPROJECT_ROOT=\"{PjprojectPrefix()}\"", env: env);
    Run("cmake", $"--build \"{nativeBuild}\" --config Release --parallel", env: env);
    Run("cmake", $"--install \"{nativeBuild}\" --config Release --prefix \"{nativeOut}\"", env: env);
});

Task("Build")
    .Description("Builds the solution.")
    .IsDependentOn("Native")
    .Does(() =>
{
    DotNetBuild($"{root}/PjSharp.sln", new DotNetBuildSettings { Configuration = configuration, NoLogo = true });
});

Task("Test")
    .Description("Runs every test project and prints 'N passed, N failed'.")
    .IsDependentOn("Build")
    // The consumer tests restore the packages from artifacts/package.
    .IsDependentOn("Pack")
    .Does(() =>
{
    if (!IsRunningOnWindows())
        EnsurePrerequisites(TestPrerequisites());
    if (!IsRunningOnWindows())
        InstallBrowserTestPackages();
    StartTestPostgres();
    CleanDirectory(testResults);
    var failedRun = false;
    try
    {
        DotNetTest($"{root}/PjSharp.sln", new DotNetTestSettings {
            Configuration = configuration, NoBuild = true, NoLogo = true,
            // Tests that run the build again use the same pjproject.
            EnvironmentVariables = Origin() == PjprojectOrigin.FromSource
                ? new Dictionary<string, string> { ["PJSHARP_PJPROJECT_VERSION"] = Recipe().Release.Version }
                : new Dictionary<string, string>(),
            ResultsDirectory = testResults,
            Loggers = new[] { "trx", "console;verbosity=normal" },
        });
    }
    catch (Exception)
    {
        failedRun = true;
    }
    int passed = 0, failed = 0, skipped = 0;
    foreach (var trx in GetFiles($"{testResults}/*.trx"))
    {
        var counters = XDocument.Load(trx.FullPath).Descendants().First(e => e.Name.LocalName == "Counters");
        int Count(string name) => (int?)counters.Attribute(name) ?? 0;
        passed += Count("passed");
        failed += Count("failed") + Count("error") + Count("timeout") + Count("aborted");
        skipped += Count("notExecuted");
    }
    if (failedRun && failed == 0) failed = 1; // a test host that crashed writes no counters
    Information($"{passed} passed, {failed} failed" + (skipped > 0 ? $", {skipped} skipped" : ""));
    if (failedRun || failed > 0) throw new CakeException("Tests failed.");
});

// The tests use a real PostgreSQL server on loopback: the local cluster, started here, unless
// PJSHARP_TEST_POSTGRES names another server.
void StartTestPostgres()
{
    if (!string.IsNullOrEmpty(EnvironmentVariable("PJSHARP_TEST_POSTGRES")) || IsRunningOnWindows())
        return;
    if (Environment.UserName != "root")
        throw new CakeException("The PostgreSQL tests need a server: run build/prepare-postgres.sh as root once, " +
            "or set PJSHARP_TEST_POSTGRES to a connection string.");
    Run($"{root}/build/prepare-postgres.sh", "");
}

Task("Bench")
    .Description("Runs the benchmarks (they print figures). --bench=all|sip-ladder|call-ladder|register-ladder|registrar-memory|dataaccess, options after the name")
    .IsDependentOn("Build")
    .Does(() =>
{
    Run("dotnet", $"\"{artifacts}/bin/PjSharp.Benchmarks/{configLower}/PjSharp.Benchmarks.dll\" {benchArgs}");
});

Task("Pack")
    .Description("Packs every package (managed, native per platform present, the pjsharp tool) into artifacts/package and prints their sizes.")
    .IsDependentOn("Native")
    .Does(() =>
{
    var output = $"{artifacts}/package";
    // Only this build's packages: a consumer restoring from the folder must not meet older ones.
    CleanDirectory(output);
    // Packing builds what it packs, with CI settings: deterministic paths (/_/) in the PDBs.
    DotNetPack($"{root}/PjSharp.sln", new DotNetPackSettings {
        Configuration = configuration, NoLogo = true, OutputDirectory = output,
        MSBuildSettings = new DotNetMSBuildSettings().WithProperty("ContinuousIntegrationBuild", "true"),
    });
    foreach (var package in GetFiles($"{output}/*.nupkg").Concat(GetFiles($"{output}/*.snupkg")).OrderBy(f => f.GetFilename().FullPath, StringComparer.Ordinal))
    {
        var bytes = new System.IO.FileInfo(package.FullPath).Length;
        Information($"{package.GetFilename(),-48} {bytes / 1024.0,10:F1} KiB");
    }
});

// The projects whose public surface PublicAPI.*.txt guard (PjSharp.Interop's generated surface
// follows the pjproject headers of each build, so it is not listed).
var publicApiProjects = new[] { "PjSharp.DataAccess", "PjSharp.DataAccess.Sqlite", "PjSharp.DataAccess.PostgreSql", "PjSharp", "PjSharp.Hosting" };

Task("PublicApi")
    .Description("Rewrites each packable project's PublicAPI.Unshipped.txt from its current public surface (what PublicAPI.Shipped.txt does not already hold).")
    .IsDependentOn("Generate")
    .Does(() =>
{
    foreach (var project in publicApiProjects)
    {
        var unshipped = $"{root}/managed/{project}/PublicAPI.Unshipped.txt";
        System.IO.File.WriteAllText(unshipped, "#nullable enable\n");
        // RS0016's code fix adds every public symbol missing from the two files.
        Run("dotnet", $"format analyzers \"{root}/managed/{project}/{project}.csproj\" --diagnostics RS0016 --severity warn");
        var lines = System.IO.File.ReadAllLines(unshipped).Skip(1).Where(l => l.Length > 0).Distinct().OrderBy(l => l, StringComparer.Ordinal);
        System.IO.File.WriteAllText(unshipped, "#nullable enable\n" + string.Concat(lines.Select(l => l + "\n")));
        Information($"{project}: {lines.Count()} public symbols not yet shipped");
    }
});

Task("Run")
    .Description("Builds and runs the pjsharp server. --serve=\"<serve options>\"")
    .IsDependentOn("Build")
    .Does(() =>
{
    Run($"{artifacts}/bin/PjSharp.Server/{configLower}/pjsharp", $"serve {serveArgs}");
});

Task("Default").IsDependentOn("Test");

RunTarget(target);
