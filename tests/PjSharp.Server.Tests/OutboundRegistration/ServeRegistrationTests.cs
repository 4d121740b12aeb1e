using System.Diagnostics;
using System.Globalization;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.OutboundRegistration;

/// <summary><c>pjsharp serve</c> with a <c>registration</c> object: it registers, <c>pjsharp show</c> says so, and stopping unregisters.</summary>
[NonParallelizable]
public sealed class ServeRegistrationTests
{
    [Test]
    public async Task Serve_registers_show_reports_it_and_stopping_unregisters()
    {
        SipTestServer.RequireSipp();
        var directory = Directory.CreateTempSubdirectory("pjsharp-outreg-").FullName;
        try
        {
            var config = Path.Combine(directory, "pjsip.conf");
            var database = Path.Combine(directory, "pjsharp.db");
            // SIPp needs the server's address only for its own Via; the registrar is found through server_uri.
            await using var registrar = await SippCallee.StartAsync("register-uas.xml", "127.0.0.1:5060", TimeSpan.FromSeconds(60));
            await File.WriteAllTextAsync(config, ConfigWithTrunk(registrar.Port));

            await using var server = await SipTestServer.StartAsync(["udp:127.0.0.1:0"], ["--config", config, "--db", database]);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            string[] row;
            do
            {
                await Task.Delay(250);
                row = TrunkRow(await ShowRegistrationsAsync(config, database));
            }
            while ((row.Length < 7 || row[5] != "registered") && DateTime.UtcNow < deadline);
            // Registration, server URI, client URI, outbound auth, expiration, status, last code, expires, next attempt, retries.
            Assert.That(row, Has.Length.EqualTo(10), server.OutputTail());
            Assert.That(row[5], Is.EqualTo("registered"), server.OutputTail());
            Assert.That(row[6], Is.EqualTo("200"));
            Assert.That(row[9], Is.EqualTo("0"));

            var stop = await server.StopAsync(TimeSpan.FromSeconds(15));
            Assert.That(stop.ExitCode, Is.Zero, server.OutputTail());
            await registrar.AssertSucceededAsync();
            Assert.That(TrunkRow(await ShowRegistrationsAsync(config, database))[5], Is.EqualTo("unregistered"), "the REGISTER with Expires: 0 was answered 200");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    public async Task A_registration_removed_from_the_file_is_unregistered_on_sighup()
    {
        SipTestServer.RequireSipp();
        var directory = Directory.CreateTempSubdirectory("pjsharp-outreg-").FullName;
        try
        {
            var config = Path.Combine(directory, "pjsip.conf");
            var database = Path.Combine(directory, "pjsharp.db");
            await using var registrar = await SippCallee.StartAsync("register-uas.xml", "127.0.0.1:5060", TimeSpan.FromSeconds(60));
            await File.WriteAllTextAsync(config, ConfigWithTrunk(registrar.Port));
            await using var server = await SipTestServer.StartAsync(["udp:127.0.0.1:0"], ["--config", config, "--db", database]);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (!server.OutputTail().Contains("Outbound registration 'trunk' registered", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
                await Task.Delay(100);
            Assert.That(server.OutputTail(), Does.Contain("Outbound registration 'trunk' registered"));

            await File.WriteAllTextAsync(config, SipTestServer.OpenConfiguration);
            Assert.That(server.Signal(ProcessSignals.Hangup), Is.True, "could not send SIGHUP");
            // SIPp's scenario ends with the REGISTER carrying Expires: 0, while the server runs on.
            await registrar.AssertSucceededAsync();
            Assert.That(server.HasExited, Is.False, server.OutputTail());
            var table = await ShowRegistrationsAsync(config, database);
            Assert.That(TrunkRow(table), Is.Empty, table);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string ConfigWithTrunk(int registrarPort) => SipTestServer.OpenConfiguration + string.Create(CultureInfo.InvariantCulture, $"""


        [trunk-auth]
        type=auth
        username=reguser
        password=reg-secret

        [trunk]
        type=registration
        server_uri=sip:127.0.0.1:{registrarPort}
        client_uri=sip:reguser@127.0.0.1
        contact_user=reguser
        outbound_auth=trunk-auth
        expiration=120
        max_random_initial_delay=0
        retry_interval=1
        """);

    /// <summary>The cells of the trunk's row in what <c>show</c> prints to a pipe: one tab-separated line per row.</summary>
    private static string[] TrunkRow(string output) =>
        output.Split('\n').Select(l => l.Split('\t')).FirstOrDefault(cells => cells[0] == "trunk") ?? [];

    /// <summary>Runs <c>pjsharp show registrations</c> as its own process, as an operator would.</summary>
    private static async Task<string> ShowRegistrationsAsync(string config, string database)
    {
        var launch = SipTestServer.Locate();
        var info = ProcessTools.StartInfo(launch.FileName, [.. launch.PrefixArguments, "show", "registrations", "--config", config, "--db", database]);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("pjsharp show did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        Assert.That(process.ExitCode, Is.Zero, await error);
        return await output;
    }
}
