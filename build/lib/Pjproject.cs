// How the build obtains and builds pjproject: pinned releases, the download cache, the
// settings header and the build key. Plain C# without a namespace so that build.cake can
// #load it and the build tests can compile it; it uses nothing but the BCL.
#nullable enable
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using IOFile = System.IO.File;
using IOPath = System.IO.Path;
using IODirectory = System.IO.Directory;

/// <summary>A build step failed in a way the user can fix; the message says how.</summary>
public sealed class BuildFailureException(string message) : Exception(message);

/// <summary>One upstream release of pjproject, pinned by the SHA-256 of its tag archive.</summary>
public sealed record PjprojectRelease(string Version, string Sha256)
{
    public string ArchiveName => $"pjproject-{Version}.tar.gz";

    public Uri Url => new($"https://github.com/pjsip/pjproject/archive/refs/tags/{Version}.tar.gz");

    /// <summary>Reads <c>native/pjproject-releases.txt</c>: "version sha256" per line, default first.</summary>
    public static IReadOnlyList<PjprojectRelease> ReadPinned(string path)
    {
        var releases = new List<PjprojectRelease>();
        var lineNumber = 0;
        foreach (var raw in IOFile.ReadAllLines(path))
        {
            lineNumber++;
            var line = raw.Split('#')[0].Trim();
            if (line.Length == 0)
                continue;
            var fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 2 || fields[1].Length != 64 || !fields[1].All(Uri.IsHexDigit))
                throw new BuildFailureException($"{path}:{lineNumber}: expected '<version> <sha256 as 64 hex digits>'.");
            releases.Add(new PjprojectRelease(fields[0], fields[1].ToLowerInvariant()));
        }
        if (releases.Count == 0)
            throw new BuildFailureException($"{path}: no release is listed.");
        return releases;
    }

    /// <summary>The pinned release with that version, or the default (first) one when none is asked for.</summary>
    public static PjprojectRelease Select(IReadOnlyList<PjprojectRelease> pinned, string? version)
    {
        if (string.IsNullOrWhiteSpace(version))
            return pinned[0];
        return pinned.FirstOrDefault(r => r.Version == version.Trim())
            ?? throw new BuildFailureException(
                $"pjproject {version} is not one of the pinned releases ({string.Join(", ", pinned.Select(r => r.Version))}); " +
                "add it with its SHA-256 to native/pjproject-releases.txt, or bring your own build with PJPROJECT_ROOT.");
    }
}

/// <summary>
/// A folder of downloaded archives, checked by hash. An archive already there is used without
/// touching the network, so a build works offline once the folder holds it.
/// </summary>
public sealed class DownloadCache(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>PJSHARP_DOWNLOAD_CACHE, else the user's cache folder (XDG on Unix, LocalAppData on Windows).</summary>
    public static string DefaultDirectory(Func<string, string?> environment)
    {
        var configured = environment("PJSHARP_DOWNLOAD_CACHE");
        if (!string.IsNullOrEmpty(configured))
            return IOPath.GetFullPath(configured);
        if (OperatingSystem.IsWindows())
            return IOPath.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "pjsharp", "downloads");
        var home = environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (OperatingSystem.IsMacOS())
            return IOPath.Combine(home, "Library", "Caches", "pjsharp", "downloads");
        var xdg = environment("XDG_CACHE_HOME");
        return IOPath.Combine(string.IsNullOrEmpty(xdg) ? IOPath.Combine(home, ".cache") : xdg, "pjsharp", "downloads");
    }

    /// <summary>
    /// The path of the verified archive: from the cache when present, else downloaded into it.
    /// <paramref name="download"/> writes the URL's content to the given file.
    /// </summary>
    public string Obtain(PjprojectRelease release, Action<Uri, string> download, Action<string> log)
    {
        var path = IOPath.Combine(Directory, release.ArchiveName);
        if (IOFile.Exists(path))
        {
            Verify(release, path, path);
            log($"pjproject {release.Version}: using {path} (SHA-256 verified, no download)");
            return path;
        }
        IODirectory.CreateDirectory(Directory);
        var partial = path + ".partial";
        log($"pjproject {release.Version}: downloading {release.Url} into {Directory}");
        try
        {
            download(release.Url, partial);
        }
        catch (Exception e) when (e is not BuildFailureException)
        {
            IOFile.Delete(partial);
            throw new BuildFailureException(
                $"pjproject {release.Version} could not be downloaded from {release.Url}: {e.Message}\n" +
                HowToSupply(release));
        }
        Verify(release, partial, path);
        IOFile.Move(partial, path, overwrite: true);
        return path;
    }

    private void Verify(PjprojectRelease release, string file, string shownAs)
    {
        var actual = Sha256Of(file);
        if (actual == release.Sha256)
            return;
        var size = new FileInfo(file).Length;
        if (file != shownAs)
            IOFile.Delete(file);
        throw new BuildFailureException(
            $"pjproject {release.Version}: {shownAs} has SHA-256 {actual}, but the pinned SHA-256 is {release.Sha256} " +
            $"({size} bytes: a truncated or different file).\n" +
            HowToSupply(release));
    }

    private string HowToSupply(PjprojectRelease release) =>
        $"To supply the archive by hand, download {release.Url} on a machine that can, " +
        $"check that its SHA-256 is {release.Sha256}, and save it as {IOPath.Combine(Directory, release.ArchiveName)} " +
        "(set PJSHARP_DOWNLOAD_CACHE to use another folder).";

    public static string Sha256Of(string file)
    {
        using var stream = IOFile.OpenRead(file);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>
/// PjSharp's pjproject settings (<c>native/pjproject-settings.cmake</c>) and the recipe that builds
/// pjproject with them. The build key covers everything that changes the result.
/// </summary>
public sealed class PjprojectRecipe
{
    // Bump when the way pjproject is built changes, so earlier installs are rebuilt.
    private const int RecipeRevision = 2; // 2: libopus present, so Opus is built in

    public PjprojectRecipe(PjprojectRelease release, IReadOnlyList<string> defines)
    {
        Release = release;
        Defines = defines;
        ConfigSiteHeader = RenderConfigSite(defines);
        Key = ComputeKey();
    }

    public PjprojectRelease Release { get; }

    public IReadOnlyList<string> Defines { get; }

    /// <summary>pjproject's own place for compile-time settings: every user of the installed headers sees them.</summary>
    public string ConfigSiteHeader { get; }

    /// <summary>Static, position-independent, optimised; NDEBUG stays out of the installed headers.</summary>
    public string CFlags => "-O2 -fPIC" + (Defines.Contains("NDEBUG") ? " -DNDEBUG" : "");

    public static IReadOnlyList<string> ConfigureArguments(string prefix) =>
    [
        $"--prefix={prefix}", "--enable-epoll", "--with-ssl", "--disable-shared", "--disable-pjsua2",
        "--disable-video", "--disable-sound", "--disable-libyuv", "--disable-libwebrtc", "--disable-ffmpeg",
        "--disable-v4l2", "--disable-openh264", "--disable-vpx", "--disable-sdl", "--disable-upnp",
        // No Opus flag: configure looks for libopus (installed as a prerequisite) only when
        // neither --enable-opus nor --disable-opus is given; --with-opus=DIR names another prefix.
    ];

    /// <summary>Twelve hex digits over the release, the settings and the recipe.</summary>
    public string Key { get; }

    public string InstallPrefix(string artifacts) =>
        IOPath.Combine(artifacts, "pjproject", $"{Release.Version}-{Key}");

    /// <summary>The shim's CMake tree for this pjproject: a new key gives a fresh tree, so the shim is rebuilt and relinked.</summary>
    public string NativeBuildName => $"{Release.Version}-{Key}";

    public const string StampName = "pjsharp-build-key.txt";

    /// <summary>True when the prefix holds a finished install of exactly this recipe.</summary>
    public bool IsInstalled(string prefix)
    {
        var stamp = IOPath.Combine(prefix, StampName);
        return IOFile.Exists(stamp) && IOFile.ReadAllText(stamp).Trim() == Key
            && IOFile.Exists(IOPath.Combine(prefix, "lib", "pkgconfig", "libpjproject.pc"));
    }

    public void MarkInstalled(string prefix) =>
        IOFile.WriteAllText(IOPath.Combine(prefix, StampName), Key + "\n");

    private string ComputeKey()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"revision {RecipeRevision}\n");
        text.Append(CultureInfo.InvariantCulture, $"release {Release.Version} {Release.Sha256}\n");
        text.Append(CultureInfo.InvariantCulture, $"cflags {CFlags}\n");
        text.Append(CultureInfo.InvariantCulture, $"configure {string.Join(' ', ConfigureArguments("PREFIX"))}\n");
        text.Append(ConfigSiteHeader);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..12];
    }

    private static string RenderConfigSite(IReadOnlyList<string> defines)
    {
        var text = new StringBuilder();
        text.Append("/* Written by the PjSharp build from native/pjproject-settings.cmake. */\n");
        text.Append("#ifndef PJSHARP_CONFIG_SITE_H\n#define PJSHARP_CONFIG_SITE_H\n");
        foreach (var define in defines)
        {
            if (define == "NDEBUG")
                continue;
            var equals = define.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? define : define[..equals];
            var value = equals < 0 ? "1" : define[(equals + 1)..];
            text.Append(CultureInfo.InvariantCulture, $"#ifndef {name}\n#  define {name} {value}\n#endif\n");
        }
        text.Append("#endif\n");
        return text.ToString();
    }

    /// <summary>The PJSHARP_PJPROJECT_DEFINES list of a settings file, comments removed.</summary>
    public static IReadOnlyList<string> ReadDefines(string settingsFile)
    {
        var text = new StringBuilder();
        foreach (var line in IOFile.ReadAllLines(settingsFile))
        {
            var hash = line.IndexOf('#', StringComparison.Ordinal);
            text.Append(hash >= 0 ? line[..hash] : line).Append('\n');
        }
        var content = text.ToString();
        const string marker = "set(PJSHARP_PJPROJECT_DEFINES";
        var start = content.IndexOf(marker, StringComparison.Ordinal);
        var end = start < 0 ? -1 : content.IndexOf(')', start);
        if (start < 0 || end < 0)
            throw new BuildFailureException($"{settingsFile}: no '{marker} ...)' list.");
        return content[(start + marker.Length)..end].Split((char[])[' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
    }
}
