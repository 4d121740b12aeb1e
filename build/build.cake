// PjSharp build: ./build.sh --target=<Target>  (Native, Generate, Build, Test, Bench, Pack, Run; default Test)
using System.Text.RegularExpressions;
using System.Xml.Linq;

var target = Argument("target", "Default");
var configuration = Argument("configuration", "Release");
var benchArgs = Argument("bench", "all");
var serveArgs = Argument("serve", "--transport udp:127.0.0.1:5060 --transport tcp:127.0.0.1:5060");

var root = MakeAbsolute(Directory("..")).FullPath;
var artifacts = $"{root}/artifacts";
var generatedCs = $"{artifacts}/obj/PjSharp.Interop/generated";
var generatedNative = $"{artifacts}/obj/native-generated";
var nativeBuild = $"{artifacts}/obj/native";
var rid = RuntimeRid();
var nativeOut = $"{artifacts}/native/runtimes/{rid}/native";
var testResults = $"{artifacts}/test-results";
var configLower = configuration.ToLowerInvariant();

// Where pjproject comes from: PJPROJECT_ROOT, else vcpkg (VCPKG_ROOT), else /opt/pjproject.
string PjprojectPrefix()
{
    var explicitRoot = EnvironmentVariable("PJPROJECT_ROOT");
    if (!string.IsNullOrEmpty(explicitRoot)) return explicitRoot;
    if (!string.IsNullOrEmpty(EnvironmentVariable("VCPKG_ROOT"))) return $"{artifacts}/vcpkg_installed/{VcpkgTriplet()}";
    return "/opt/pjproject";
}

string VcpkgTriplet() => IsRunningOnWindows() ? "x64-windows-pjsharp"
    : IsRunningOnMacOs() ? "arm64-osx-pjsharp" : "x64-linux-pjsharp";

string RuntimeRid() => IsRunningOnWindows() ? "win-x64"
    : IsRunningOnMacOs() ? "osx-arm64"
    : System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "linux-arm64" : "linux-x64";

string Run(string file, string args, string workingDirectory = null, bool capture = false, IDictionary<string, string> env = null)
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

IDictionary<string, string> PkgConfigEnv() => new Dictionary<string, string> {
    ["PKG_CONFIG_PATH"] = $"{PjprojectPrefix()}/lib/pkgconfig:{EnvironmentVariable("PKG_CONFIG_PATH") ?? ""}",
};

Task("Pjproject")
    .Description("Finds pjproject (PJPROJECT_ROOT or /opt/pjproject), or installs vcpkg's port when only VCPKG_ROOT is set.")
    .Does(() =>
{
    if (string.IsNullOrEmpty(EnvironmentVariable("PJPROJECT_ROOT")) && !string.IsNullOrEmpty(EnvironmentVariable("VCPKG_ROOT")))
    {
        var vcpkg = $"{EnvironmentVariable("VCPKG_ROOT")}/vcpkg" + (IsRunningOnWindows() ? ".exe" : "");
        Run(vcpkg, $"install --x-manifest-root=\"{root}\" --overlay-triplets=\"{root}/native/triplets\" --triplet {VcpkgTriplet()} --x-install-root=\"{artifacts}/vcpkg_installed\"");
    }
    var pc = $"{PjprojectPrefix()}/lib/pkgconfig/libpjproject.pc";
    if (!FileExists(pc))
        throw new CakeException(
            $"pjproject was not found: {pc} does not exist.\n" +
            "Either install pjproject 2.15.1 or newer (2.17 recommended) under PJPROJECT_ROOT (default /opt/pjproject) " +
            "with the settings listed in README.md, or set VCPKG_ROOT so the build installs vcpkg's 'pjproject' port (vcpkg.json).");
    var version = Run("pkg-config", "--modversion libpjproject", capture: true, env: PkgConfigEnv()).Trim();
    Information($"pjproject {version} at {PjprojectPrefix()}");
});

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
    .Does(() =>
{
    CleanDirectory(testResults);
    var failedRun = false;
    try
    {
        DotNetTest($"{root}/PjSharp.sln", new DotNetTestSettings {
            Configuration = configuration, NoBuild = true, NoLogo = true,
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
        passed += (int)counters.Attribute("passed");
        failed += (int)counters.Attribute("failed") + (int)counters.Attribute("error") + (int)counters.Attribute("timeout") + (int)counters.Attribute("aborted");
        skipped += (int)counters.Attribute("notExecuted");
    }
    if (failedRun && failed == 0) failed = 1; // a test host that crashed writes no counters
    Information($"{passed} passed, {failed} failed" + (skipped > 0 ? $", {skipped} skipped" : ""));
    if (failedRun || failed > 0) throw new CakeException("Tests failed.");
});

Task("Bench")
    .Description("Runs the benchmarks (they print figures). --bench=all|sip-ladder|dataaccess|interop")
    .IsDependentOn("Build")
    .Does(() =>
{
    Run("dotnet", $"\"{artifacts}/bin/PjSharp.Benchmarks/{configLower}/PjSharp.Benchmarks.dll\" {benchArgs}");
});

Task("Pack")
    .Description("Packs the NuGet packages (managed + native) into artifacts/package.")
    .IsDependentOn("Build")
    .Does(() =>
{
    foreach (var project in new[] { "PjSharp.Interop", "PjSharp.DataAccess", "PjSharp", "PjSharp.DataAccess.Sqlite", "PjSharp.DataAccess.PostgreSql" })
        DotNetPack($"{root}/managed/{project}/{project}.csproj", new DotNetPackSettings {
            Configuration = configuration, NoBuild = true, NoLogo = true, OutputDirectory = $"{artifacts}/package" });
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
