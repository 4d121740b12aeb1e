using System.Diagnostics;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Registrar;

/// <summary>What <c>pjsharp serve</c> says about bad settings: the file, line and key, and a non-zero exit.</summary>
[CancelAfter(60_000)]
public sealed class ServeStartupTests
{
    private static async Task<(int Exit, string Output)> ServeAsync(string configuration, params string[] extra)
    {
        var directory = Directory.CreateTempSubdirectory("pjsharp-serve-").FullName;
        try
        {
            var config = Path.Combine(directory, "pjsip.conf");
            await File.WriteAllTextAsync(config, configuration);
            var launch = SipTestServer.Locate().Serve(["--config", config, "--db", Path.Combine(directory, "db"), "--transport", "udp:127.0.0.1:0", .. extra]);
            var start = new ProcessStartInfo(launch.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory };
            foreach (var argument in launch.Arguments)
                start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await output + await error);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task Bad_config_file_stops_the_server_naming_file_line_and_key()
    {
        var (exit, output) = await ServeAsync("[alice]\ntype=endpoint\nmax_forwardz=3\n");

        Assert.That(exit, Is.EqualTo(1), output);
        Assert.That(output, Does.Match(@"pjsip\.conf:3: endpoint 'alice': .*max_forwardz"));
    }

    [Test]
    public async Task Stored_hash_of_the_wrong_length_is_refused_at_start()
    {
        var (exit, output) = await ServeAsync("[alice]\ntype=auth\nauth_type=md5\nusername=alice\nmd5_cred=abc123\n");

        Assert.That(exit, Is.Not.Zero, output);
        Assert.That(output, Does.Contain("auth 'alice'").And.Contain("32 hexadecimal digits"));
        Assert.That(output, Does.Not.Contain("abc123"), "the hash itself is never echoed");
    }

    [Test]
    public async Task Bad_option_is_reported_with_its_configuration_key()
    {
        var (exit, output) = await ServeAsync("", "--auth-algorithm", "SHA-1");

        Assert.That(exit, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("PjSharp:Security:DigestAlgorithms:0: 'SHA-1' is not one of MD5, SHA-256, SHA-512-256"));
    }

    [Test]
    public async Task Password_digest_of_the_wrong_length_is_an_error_naming_line_and_key()
    {
        var (exit, output) = await ServeAsync("[alice]\ntype=auth\nusername=alice\npassword_digest=SHA-256:0123abcd\n");

        Assert.That(exit, Is.EqualTo(1), output);
        Assert.That(output, Does.Match(@"pjsip\.conf:4: auth 'alice': .*password_digest.*64 hexadecimal digits"));
        Assert.That(output, Does.Not.Contain("0123abcd"));
    }
}
