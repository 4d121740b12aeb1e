using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;

namespace PjSharp.Build.Tests;

/// <summary>What each package of artifacts/package (the Pack target's output) holds and declares.</summary>
public sealed class PackageLayoutTests
{
    private static readonly string[] s_managed =
        ["PjSharp", "PjSharp.Interop", "PjSharp.DataAccess", "PjSharp.Data.Sqlite", "PjSharp.Data.PostgreSql", "PjSharp.Hosting"];

    private static readonly string[] s_all = [.. s_managed, "PjSharp.Native.linux-x64", "PjSharp.Tool"];

    private static string Version => XDocument.Load(RepositoryPaths.File("Directory.Build.props")).Descendants("Version").First().Value;

    private static string PackagePath(string id, string extension = "nupkg")
    {
        var path = RepositoryPaths.File("artifacts", "package", $"{id}.{Version}.{extension}");
        Assert.That(File.Exists(path), Is.True, $"{path} is missing: run ./build.sh --target=Pack first.");
        return path;
    }

    private static List<string> Entries(string id, string extension = "nupkg")
    {
        using var archive = ZipFile.OpenRead(PackagePath(id, extension));
        return [.. archive.Entries.Select(e => e.FullName)];
    }

    private static string Read(string id, string entry)
    {
        using var archive = ZipFile.OpenRead(PackagePath(id));
        using var reader = new StreamReader(archive.GetEntry(entry)!.Open());
        return reader.ReadToEnd();
    }

    private static XElement Metadata(string id)
    {
        var nuspec = XDocument.Parse(Read(id, $"{id}.nuspec"));
        return nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static XElement? Child(XElement parent, string name) => parent.Elements().FirstOrDefault(e => e.Name.LocalName == name);

    [TestCaseSource(nameof(s_all))]
    public void Package_carries_the_licence_the_readme_and_the_third_party_notices(string id)
    {
        var metadata = Metadata(id);
        Assert.Multiple(() =>
        {
            Assert.That(Child(metadata, "license")?.Value, Is.EqualTo("GPL-2.0-or-later"));
            Assert.That(Child(metadata, "version")?.Value, Is.EqualTo(Version));
            Assert.That(Child(metadata, "readme")?.Value, Is.EqualTo("README.md"));
            Assert.That(Entries(id), Does.Contain("README.md").And.Contain("THIRD-PARTY-NOTICES.txt"));
            Assert.That(Child(metadata, "repository")?.Attribute("commit")?.Value, Does.Match("^[0-9a-f]{40}$"), "the commit it was built from");
        });
    }

    [TestCaseSource(nameof(s_managed))]
    public void Managed_package_has_its_symbols_beside_it(string id)
    {
        var assembly = Entries(id).Single(e => e.StartsWith("lib/net10.0/", StringComparison.Ordinal) && e.EndsWith(".dll", StringComparison.Ordinal));
        Assert.That(Entries(id, "snupkg"), Does.Contain(Path.ChangeExtension(assembly, ".pdb")));
    }

    [Test]
    public void Native_package_holds_only_libpjsharp_in_the_runtimes_layout()
    {
        var files = Entries("PjSharp.Native.linux-x64")
            .Where(e => !e.StartsWith('_') && !e.StartsWith('[') && !e.StartsWith("package/", StringComparison.Ordinal) && !e.EndsWith(".nuspec", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        Assert.That(files, Is.EqualTo(new[] { "README.md", "THIRD-PARTY-NOTICES.txt", "runtimes/linux-x64/native/libpjsharp.so" }));
    }

    [Test]
    public void Interop_package_depends_on_the_native_package_of_exactly_its_version_and_carries_no_native_code()
    {
        var dependencies = Metadata("PjSharp.Interop").Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
        Assert.That(dependencies, Does.ContainKey("PjSharp.Native.linux-x64").WithValue($"[{Version}]"));
        Assert.That(Entries("PjSharp.Interop"), Has.None.StartsWith("runtimes/"));
        Assert.That(Entries("PjSharp.Interop"), Does.Contain("buildTransitive/PjSharp.Interop.targets"));
    }

    [Test]
    public void Tool_package_runs_pjsharp_with_libpjsharp_the_samples_and_its_runtime_settings()
    {
        const string Tool = "tools/net10.0/any/";
        var entries = Entries("PjSharp.Tool");
        Assert.That(Read("PjSharp.Tool", Tool + "DotnetToolSettings.xml"), Does.Contain("Name=\"pjsharp\"").And.Contain("EntryPoint=\"PjSharp.Server.dll\""));
        Assert.That(entries, Does.Contain(Tool + "runtimes/linux-x64/native/libpjsharp.so")
            .And.Contain(Tool + "samples/pjsip.conf")
            .And.Contain(Tool + "samples/sounds/tone.wav"));
        using var runtimeConfig = JsonDocument.Parse(Read("PjSharp.Tool", Tool + "PjSharp.Server.runtimeconfig.json"));
        var settings = runtimeConfig.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.That(settings.GetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit").GetInt32(), Is.Zero);
        // SQLite only for the platforms libpjsharp was built for.
        var sqlitePlatforms = entries.Where(e => e.StartsWith(Tool + "runtimes/", StringComparison.Ordinal) && e.Contains("e_sqlite3", StringComparison.Ordinal)).Select(e => e.Split('/')[4]).Distinct();
        var pjsharpPlatforms = entries.Where(e => e.EndsWith("/libpjsharp.so", StringComparison.Ordinal)).Select(e => e.Split('/')[4]).Distinct();
        Assert.That(sqlitePlatforms, Is.EquivalentTo(pjsharpPlatforms));
    }
}
