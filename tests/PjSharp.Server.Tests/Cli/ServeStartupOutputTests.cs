using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Cli;

/// <summary>What <c>pjsharp serve</c> prints while it starts, and the one line it prints when it cannot.</summary>
[CancelAfter(60_000)]
public sealed class ServeStartupOutputTests
{
    private string _directory = null!;

    [SetUp]
    public void SetUp() => _directory = Directory.CreateTempSubdirectory("pjsharp-start-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_directory, recursive: true);

    private string Config()
    {
        var path = Path.Combine(_directory, "pjsip.conf");
        File.WriteAllText(path, SipTestServer.OpenConfiguration);
        return path;
    }

    [Test]
    public async Task A_port_in_use_stops_the_server_with_one_line_naming_the_transport()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;

        var result = await CliProcess.RunAsync(TimeSpan.FromSeconds(30),
            "serve", "--config", Config(), "--db", Path.Combine(_directory, "pjsharp.db"), "--transport", string.Create(CultureInfo.InvariantCulture, $"udp:127.0.0.1:{port}"));

        Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
        var errors = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("pjsharp serve:", StringComparison.Ordinal)).ToArray();
        Assert.That(errors, Has.Length.EqualTo(1), result.ToString());
        Assert.That(errors[0], Does.StartWith("pjsharp serve: cannot start: ").And.Contain(string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}")).And.Contain("in use"));
        Assert.That(result.Error + result.Output, Does.Not.Contain(" at "), "no stack trace");
        Assert.That(result.Output, Does.Not.Contain("ready"));
    }

    [Test]
    public async Task A_missing_config_file_is_one_clear_line()
    {
        var result = await CliProcess.RunAsync(TimeSpan.FromSeconds(30),
            "serve", "--config", Path.Combine(_directory, "nothing.conf"), "--db", Path.Combine(_directory, "pjsharp.db"), "--transport", "udp:127.0.0.1:0");

        Assert.That(result.ExitCode, Is.Not.Zero, result.ToString());
        Assert.That(result.Error.Trim(), Is.EqualTo($"pjsharp serve: PjSharp:ConfigFile: '{Path.Combine(_directory, "nothing.conf")}' does not exist."));
        Assert.That(result.Error + result.Output, Does.Not.Contain(" at "), "no stack trace");
    }

    [Test]
    public async Task Progress_names_each_start_up_step_then_the_time_to_ready()
    {
        var config = Config();
        var database = Path.Combine(_directory, "pjsharp.db");
        using var server = CliProcess.Start("serve", "--config", config, "--db", database, "--transport", "udp:127.0.0.1:0", "--progress");
        await server.WaitForAsync(s => s.Output.Contains("ready\n", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "ready");
        var output = server.Output;
        server.Process.Kill();

        Assert.That(output, Does.Contain($"opening database {database}"));
        Assert.That(output, Does.Match($@"loaded 3 objects from {System.Text.RegularExpressions.Regex.Escape(config)}"));
        Assert.That(output, Does.Match(@"transports bound: udp 127\.0\.0\.1:\d+"));
        Assert.That(output, Does.Match(@"started in \d+ ms\nready\n"));
        Assert.That(output.IndexOf("opening database", StringComparison.Ordinal), Is.LessThan(output.IndexOf("transports bound", StringComparison.Ordinal)));
        Assert.That(output, Does.Contain($"admin socket {Path.Combine(_directory, "pjsharp.sock")}"));
    }
}
