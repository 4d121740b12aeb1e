using System.Security.Cryptography;

namespace PjSharp.Build.Tests;

public sealed class DownloadCacheTests
{
    private string _cache = "";
    private readonly List<string> _log = [];

    [SetUp]
    public void CreateCache()
    {
        _cache = Directory.CreateTempSubdirectory("pjsharp-cache-").FullName;
        _log.Clear();
    }

    [TearDown]
    public void DeleteCache() => Directory.Delete(_cache, recursive: true);

    private static PjprojectRelease ReleaseOf(byte[] content, string version = "9.9") =>
        new(version, Convert.ToHexStringLower(SHA256.HashData(content)));

    private static void NoNetwork(Uri url, string file) =>
        Assert.Fail($"The build tried to download {url} although the archive is in the cache.");

    [Test]
    public void Cached_archive_is_used_without_any_download()
    {
        var content = RandomNumberGenerator.GetBytes(4096);
        var release = ReleaseOf(content);
        File.WriteAllBytes(Path.Combine(_cache, release.ArchiveName), content);

        var path = new DownloadCache(_cache).Obtain(release, NoNetwork, _log.Add);

        Assert.That(path, Is.EqualTo(Path.Combine(_cache, "pjproject-9.9.tar.gz")));
        Assert.That(_log, Has.One.Contains("no download"));
    }

    [Test]
    public void Cached_archive_with_the_wrong_hash_is_refused_naming_both_hashes()
    {
        var release = ReleaseOf(RandomNumberGenerator.GetBytes(4096));
        var other = RandomNumberGenerator.GetBytes(4096);
        File.WriteAllBytes(Path.Combine(_cache, release.ArchiveName), other);

        var failure = Assert.Throws<BuildFailureException>(() => new DownloadCache(_cache).Obtain(release, NoNetwork, _log.Add))!;

        Assert.That(failure.Message, Does.Contain(release.Sha256));
        Assert.That(failure.Message, Does.Contain(Convert.ToHexStringLower(SHA256.HashData(other))));
        Assert.That(failure.Message, Does.Contain("To supply the archive by hand"));
        Assert.That(failure.Message, Does.Contain(release.Url.ToString()));
    }

    [Test]
    public void Truncated_archive_is_refused()
    {
        var content = RandomNumberGenerator.GetBytes(8192);
        var release = ReleaseOf(content);
        File.WriteAllBytes(Path.Combine(_cache, release.ArchiveName), content[..5000]);

        var failure = Assert.Throws<BuildFailureException>(() => new DownloadCache(_cache).Obtain(release, NoNetwork, _log.Add))!;

        Assert.That(failure.Message, Does.Contain("5000 bytes"));
    }

    [Test]
    public void Missing_archive_is_downloaded_into_the_cache_and_verified()
    {
        var content = RandomNumberGenerator.GetBytes(4096);
        var release = ReleaseOf(content);
        var downloads = 0;

        var path = new DownloadCache(_cache).Obtain(release, (url, file) => { downloads++; File.WriteAllBytes(file, content); }, _log.Add);

        Assert.That(downloads, Is.EqualTo(1));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(content));
        Assert.That(Directory.GetFiles(_cache), Has.Length.EqualTo(1), "no partial file is left behind");
        // The second build finds it there.
        Assert.That(new DownloadCache(_cache).Obtain(release, NoNetwork, _log.Add), Is.EqualTo(path));
    }

    [Test]
    public void Download_with_the_wrong_content_leaves_nothing_in_the_cache()
    {
        var release = ReleaseOf(RandomNumberGenerator.GetBytes(4096));

        Assert.Throws<BuildFailureException>(() => new DownloadCache(_cache).Obtain(
            release, (url, file) => File.WriteAllText(file, "<html>not found</html>"), _log.Add));

        Assert.That(Directory.GetFiles(_cache), Is.Empty);
    }

    [Test]
    public void Failed_download_says_how_to_supply_the_archive()
    {
        var release = ReleaseOf(RandomNumberGenerator.GetBytes(16));

        var failure = Assert.Throws<BuildFailureException>(() => new DownloadCache(_cache).Obtain(
            release, (url, file) => throw new HttpRequestException("Name or service not known"), _log.Add))!;

        Assert.That(failure.Message, Does.Contain("Name or service not known"));
        Assert.That(failure.Message, Does.Contain(Path.Combine(_cache, release.ArchiveName)));
        Assert.That(Directory.GetFiles(_cache), Is.Empty);
    }

    [Test]
    public void Cache_folder_comes_from_PJSHARP_DOWNLOAD_CACHE_else_the_user_cache()
    {
        var configured = DownloadCache.DefaultDirectory(name => name == "PJSHARP_DOWNLOAD_CACHE" ? "/srv/cache" : null);
        var xdg = DownloadCache.DefaultDirectory(name => name switch { "XDG_CACHE_HOME" => "/home/u/.xdg", "HOME" => "/home/u", _ => null });
        var home = DownloadCache.DefaultDirectory(name => name == "HOME" ? "/home/u" : null);

        Assert.That(configured, Is.EqualTo("/srv/cache"));
        Assert.That(xdg, Is.EqualTo("/home/u/.xdg/pjsharp/downloads"));
        Assert.That(home, Is.EqualTo("/home/u/.cache/pjsharp/downloads"));
    }
}
