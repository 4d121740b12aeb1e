using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;
using PjSharp.Testing.Sipp;

namespace PjSharp.Build.Tests;

/// <summary>
/// The packages as a user meets them: new projects outside the repository restore them from a
/// local feed of artifacts/package (the Pack target's output), with their own packages folder so
/// no earlier copy of the same version is reused, and serve SIP to SIPp on loopback.
/// </summary>
[NonParallelizable]
[Platform("Linux")]
public sealed class ConsumerPackageTests
{
    private const string User = "alice";
    private const string Password = "secret-alice";

    private static readonly TimeSpan s_buildTimeout = TimeSpan.FromMinutes(4);

    private string _scratch = "";
    private string _feed = "";
    private string _version = "";

    private string Packages => Path.Combine(_scratch, "packages");

    [OneTimeSetUp]
    public void CreateFeedConfiguration()
    {
        Assert.That(SippRunner.IsAvailable, Is.True, SippRunner.MissingMessage);
        _version = XDocument.Load(RepositoryPaths.File("Directory.Build.props")).Descendants("Version").First().Value;
        _feed = RepositoryPaths.File("artifacts", "package");
        Assert.That(File.Exists(Path.Combine(_feed, $"PjSharp.Hosting.{_version}.nupkg")), Is.True,
            $"{_feed} holds no PjSharp.Hosting {_version}: run ./build.sh --target=Pack first.");

        _scratch = Directory.CreateTempSubdirectory("pjsharp-consumer-").FullName;
        // The local feed serves PjSharp*, and only it (source mapping); nuget.org serves the rest.
        File.WriteAllText(Path.Combine(_scratch, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{Packages}" />
              </config>
              <packageSources>
                <clear />
                <add key="pjsharp-local" value="{_feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="pjsharp-local">
                  <package pattern="PjSharp" />
                  <package pattern="PjSharp.*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
    }

    [OneTimeTearDown]
    public void DeleteScratch()
    {
        if (_scratch.Length > 0)
            Directory.Delete(_scratch, recursive: true);
    }

    [Test]
    public async Task Console_app_on_the_packages_answers_OPTIONS_and_an_authenticated_REGISTER()
    {
        var app = CreateConsoleApp("app");
        var output = Build(app);

        Assert.That(File.Exists(Path.Combine(output, "runtimes", "linux-x64", "native", "libpjsharp.so")), Is.True,
            "the PjSharp.Native.linux-x64 asset is beside the app");
        foreach (var package in new[] { "pjsharp.hosting", "pjsharp", "pjsharp.interop", "pjsharp.native.linux-x64", "pjsharp.data.sqlite" })
            Assert.That(RestoredFrom(package), Is.EqualTo(_feed), $"{package} came from the local feed");

        var port = SippRunner.FreeUdpPort();
        WriteConfiguration(app, port);
        await using var server = await StartAppAsync(app, output);

        await ExpectOptionsAnsweredAsync(port, server);
        await ExpectRegisteredAsync(port, server);
    }

    [Test]
    public async Task PjSharpNativeLibrary_none_leaves_libpjsharp_out_and_PJSHARP_NATIVE_PATH_brings_it()
    {
        var app = CreateConsoleApp("none");
        var output = Build(app, "-p:PjSharpNativeLibrary=none");

        Assert.That(Directory.GetFiles(output, "*pjsharp.so", SearchOption.AllDirectories), Is.Empty);
        Assert.That(File.ReadAllText(Path.Combine(output, "Consumer.deps.json")), Does.Not.Contain("libpjsharp"));

        var port = SippRunner.FreeUdpPort();
        WriteConfiguration(app, port);
        var failed = Assert.ThrowsAsync<InvalidOperationException>(async () => await (await StartAppAsync(app, output)).DisposeAsync());
        Assert.That(failed!.Message, Does.Contain("DllNotFoundException"), "without a libpjsharp the app cannot start");

        var library = RepositoryPaths.File("artifacts", "native", "runtimes", "linux-x64", "native", "libpjsharp.so");
        await using var server = await StartAppAsync(app, output, new Dictionary<string, string?> { ["PJSHARP_NATIVE_PATH"] = library });
        await ExpectOptionsAnsweredAsync(port, server);
    }

    [Test]
    public void PjSharpNativeLibrary_with_a_file_ships_that_file_instead()
    {
        var own = Path.Combine(_scratch, "own-build", "libpjsharp.so");
        Directory.CreateDirectory(Path.GetDirectoryName(own)!);
        // Any file stands for a libpjsharp built elsewhere; its bytes show which one was copied.
        File.WriteAllText(own, "a libpjsharp built against another pjproject");
        var app = CreateConsoleApp("own");
        var output = Build(app, $"-p:PjSharpNativeLibrary={own}");

        Assert.That(File.ReadAllText(Path.Combine(output, "libpjsharp.so")), Is.EqualTo(File.ReadAllText(own)));
        Assert.That(Directory.GetFiles(Path.Combine(output, "runtimes"), "libpjsharp.so", SearchOption.AllDirectories), Is.Empty,
            "the package's own libpjsharp is left out");
    }

    [Test]
    public async Task Tool_installed_from_the_local_feed_serves_OPTIONS()
    {
        var tools = Path.Combine(_scratch, "tools");
        Dotnet(_scratch, "tool", "install", "PjSharp.Tool", "--version", _version, "--tool-path", tools,
            "--configfile", Path.Combine(_scratch, "NuGet.config"));

        await using var server = await ServerProcess.StartAsync(new ServerProcessOptions
        {
            FileName = Path.Combine(tools, "pjsharp"),
            Arguments = ["serve", "--transport", "udp:127.0.0.1:0", "--db", Path.Combine(_scratch, "tool.db")],
            DisplayName = "pjsharp (tool)",
            WorkingDirectory = _scratch,
            ReadyTimeout = TimeSpan.FromSeconds(60),
        });
        await ExpectOptionsAnsweredAsync(server.Endpoint("udp").EndPoint.Port, server);
    }

    /// <summary>A console project of a few lines: AddPjSharp on the Generic Host.</summary>
    private string CreateConsoleApp(string name)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_scratch, name)).FullName;
        File.WriteAllText(Path.Combine(directory, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="PjSharp.Hosting" Version="{_version}" />
                <PackageReference Include="Microsoft.Extensions.Hosting" Version="10.0.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), """
            using Microsoft.Extensions.Hosting;
            using PjSharp.Hosting;

            var builder = Host.CreateApplicationBuilder(args);
            builder.Services.AddPjSharp(options => options.ConfigFile = "pjsip.conf");
            using var host = builder.Build();
            await host.StartAsync();
            Console.WriteLine("ready");
            await host.WaitForShutdownAsync();
            """);
        return directory;
    }

    private static void WriteConfiguration(string app, int port) =>
        File.WriteAllText(Path.Combine(app, "pjsip.conf"), string.Create(CultureInfo.InvariantCulture, $"""
            [global]
            type=global
            endpoint_identifier_order=username,ip

            [transport-udp]
            type=transport
            protocol=udp
            bind=127.0.0.1:{port}

            [{User}]
            type=endpoint
            context=default
            allow=!all,ulaw
            auth={User}
            aors={User}

            [{User}]
            type=auth
            auth_type=userpass
            username={User}
            password={Password}

            [{User}]
            type=aor
            max_contacts=1
            remove_existing=yes

            """));

    /// <summary>Builds the project and returns its output folder.</summary>
    private static string Build(string project, params string[] properties)
    {
        var output = Path.Combine(project, "out");
        Dotnet(project, ["build", "-c", "Release", "-o", output, "--disable-build-servers", .. properties]);
        return output;
    }

    private static Task<ServerProcess> StartAppAsync(string app, string output, IReadOnlyDictionary<string, string?>? environment = null) =>
        ServerProcess.StartAsync(new ServerProcessOptions
        {
            FileName = ProcessTools.DotnetHost(),
            Arguments = [Path.Combine(output, "Consumer.dll")],
            DisplayName = "consumer app",
            WorkingDirectory = app,
            Environment = environment ?? new Dictionary<string, string?>(),
            ReadyTimeout = TimeSpan.FromSeconds(60),
        });

    private static async Task ExpectOptionsAnsweredAsync(int port, ServerProcess server)
    {
        var result = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("options-uac.xml"),
            Target = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(15),
            TraceErrors = true,
        });
        Assert.That(result.Successful, Is.EqualTo(1), $"OPTIONS: {result.Describe()}\n--- {server.DisplayName} ---\n{server.OutputTail()}");
    }

    private async Task ExpectRegisteredAsync(int port, ServerProcess server)
    {
        var users = Path.Combine(_scratch, "users.csv");
        await File.WriteAllTextAsync(users, $"SEQUENTIAL\n{User};[authentication username={User} password={Password}];120\n");
        var result = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("register-auth-uac.xml"),
            Target = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}"),
            Timeout = TimeSpan.FromSeconds(15),
            TraceErrors = true,
            ExtraArguments = ["-inf", users],
        });
        Assert.That(result.Successful, Is.EqualTo(1), $"REGISTER 401 then 200: {result.Describe()}\n--- {server.DisplayName} ---\n{server.OutputTail()}");
    }

    /// <summary>The source a package in the isolated packages folder was restored from.</summary>
    private string RestoredFrom(string package)
    {
        var metadata = Path.Combine(Packages, package, _version.ToLowerInvariant(), ".nupkg.metadata");
        Assert.That(File.Exists(metadata), Is.True, $"{package} {_version} was not restored into {Packages}");
        using var json = JsonDocument.Parse(File.ReadAllText(metadata));
        return Path.TrimEndingDirectorySeparator(json.RootElement.GetProperty("source").GetString() ?? "");
    }

    /// <summary>Runs the dotnet CLI to completion; fails the test with its output when it fails.</summary>
    private static void Dotnet(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(ProcessTools.DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(s_buildTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', arguments)} did not finish within {s_buildTimeout}");
        }
        Assert.That(process.ExitCode, Is.Zero, $"dotnet {string.Join(' ', arguments)}:\n{output.Result}\n{error.Result}");
    }
}
