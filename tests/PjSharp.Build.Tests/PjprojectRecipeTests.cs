namespace PjSharp.Build.Tests;

public sealed class PjprojectRecipeTests
{
    private static readonly IReadOnlyList<PjprojectRelease> Pinned =
        PjprojectRelease.ReadPinned(RepositoryPaths.File("native", "pjproject-releases.txt"));

    private static IReadOnlyList<string> RepositorySettings() =>
        PjprojectRecipe.ReadDefines(RepositoryPaths.File("native", "pjproject-settings.cmake"));

    [Test]
    public void Pinned_releases_are_2_17_by_default_and_2_15_1_with_upstreams_hashes()
    {
        Assert.That(PjprojectRelease.Select(Pinned, null), Is.EqualTo(
            new PjprojectRelease("2.17", "065fe06c06788d97c35f563796d59f00ce52fe9558a52d7b490a042a966facce")));
        Assert.That(PjprojectRelease.Select(Pinned, "2.15.1").Sha256,
            Is.EqualTo("8f3bd99caf003f96ed8038b8a36031eb9d8cd9eaea1eaff7e01c2eef6bd55706"));
        Assert.That(PjprojectRelease.Select(Pinned, "2.17").Url.ToString(),
            Is.EqualTo("https://github.com/pjsip/pjproject/archive/refs/tags/2.17.tar.gz"));
    }

    [Test]
    public void Unpinned_version_is_refused_with_the_known_ones()
    {
        var failure = Assert.Throws<BuildFailureException>(() => PjprojectRelease.Select(Pinned, "2.99"))!;
        Assert.That(failure.Message, Does.Contain("2.17, 2.15.1"));
    }

    [Test]
    public void Malformed_pin_is_refused_with_its_line()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "# pins\n2.17 065fe06c\n");
            var failure = Assert.Throws<BuildFailureException>(() => PjprojectRelease.ReadPinned(file))!;
            Assert.That(failure.Message, Does.StartWith($"{file}:2:"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void Settings_go_into_config_site_h_each_overridable_and_without_NDEBUG()
    {
        var recipe = new PjprojectRecipe(Pinned[0], RepositorySettings());

        Assert.That(recipe.ConfigSiteHeader, Does.Contain("#ifndef PJSIP_MAX_PKT_LEN\n#  define PJSIP_MAX_PKT_LEN 16384\n#endif"));
        Assert.That(recipe.ConfigSiteHeader, Does.Contain("#  define PJ_HAS_IPV6 1"));
        Assert.That(recipe.ConfigSiteHeader, Does.Not.Contain("NDEBUG"));
        Assert.That(recipe.CFlags, Is.EqualTo("-O2 -fPIC -DNDEBUG"));
        Assert.That(PjprojectRecipe.ConfigureArguments("/p"), Does.Contain("--prefix=/p").And.Contain("--enable-epoll").And.Contain("--with-ssl"));
    }

    [Test]
    public void Unchanged_settings_keep_the_key_so_nothing_is_rebuilt()
    {
        var first = new PjprojectRecipe(Pinned[0], RepositorySettings());
        var second = new PjprojectRecipe(Pinned[0], RepositorySettings());

        Assert.That(second.Key, Is.EqualTo(first.Key));
        Assert.That(second.InstallPrefix("/a"), Is.EqualTo(first.InstallPrefix("/a")));
    }

    [Test]
    public void Changed_setting_or_version_gives_a_new_key_and_install_prefix()
    {
        var settings = RepositorySettings();
        var changed = settings.Select(d => d == "PJSIP_MAX_PKT_LEN=16384" ? "PJSIP_MAX_PKT_LEN=8192" : d).ToList();
        Assert.That(changed, Is.Not.EqualTo(settings), "the settings file still holds PJSIP_MAX_PKT_LEN=16384");

        var original = new PjprojectRecipe(Pinned[0], settings);
        var otherSetting = new PjprojectRecipe(Pinned[0], changed);
        var otherVersion = new PjprojectRecipe(Pinned[1], settings);

        Assert.That(otherSetting.Key, Is.Not.EqualTo(original.Key));
        Assert.That(otherVersion.Key, Is.Not.EqualTo(original.Key));
        Assert.That(otherSetting.InstallPrefix("/a"), Is.Not.EqualTo(original.InstallPrefix("/a")));
        // The shim's CMake tree is named after the same key, so it is rebuilt and relinked too.
        Assert.That(otherSetting.NativeBuildName, Is.Not.EqualTo(original.NativeBuildName));
    }

    [Test]
    public void Install_counts_only_with_the_stamp_of_the_same_key()
    {
        var prefix = Directory.CreateTempSubdirectory("pjsharp-prefix-").FullName;
        try
        {
            var recipe = new PjprojectRecipe(Pinned[0], RepositorySettings());
            Directory.CreateDirectory(Path.Combine(prefix, "lib", "pkgconfig"));
            File.WriteAllText(Path.Combine(prefix, "lib", "pkgconfig", "libpjproject.pc"), "Version: 2.17\n");
            Assert.That(recipe.IsInstalled(prefix), Is.False, "an install that never finished");

            recipe.MarkInstalled(prefix);
            Assert.That(recipe.IsInstalled(prefix), Is.True);

            File.WriteAllText(Path.Combine(prefix, PjprojectRecipe.StampName), "0123456789ab\n");
            Assert.That(recipe.IsInstalled(prefix), Is.False, "an install of other settings");
        }
        finally
        {
            Directory.Delete(prefix, recursive: true);
        }
    }
}
