using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using PjSharp.Server.Commands;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Qualify;

/// <summary>Qualify in a real <c>pjsharp serve</c>, seen through <c>pjsharp show contacts</c> on its database.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class ServeQualifyTests
{
    /// <summary><c>pjsharp show contacts --config --db</c>, run in this process as the app runs it.</summary>
    internal static (int ExitCode, string Output, string Error) Show(string config, string database)
    {
        var root = new RootCommand("test") { ConfigCommands.CreateShowCommand() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = root.Parse(["show", "contacts", "--config", config, "--db", database]).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }

    internal static string? LineOf(string output, string uri) =>
        output.Split('\n').FirstOrDefault(l => l.Contains(uri, StringComparison.Ordinal));

    [Test]
    public async Task Serve_qualifies_permanent_contacts_and_show_contacts_gives_status_and_rtt()
    {
        SipTestServer.RequireSipp();
        await using var sipp = await SippCallee.StartAsync("options-uas.xml", "127.0.0.1:9", TimeSpan.FromSeconds(40), calls: 200);
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var answering = $"sip:dave@127.0.0.1:{sipp.Port}";
        var quiet = $"sip:erin@127.0.0.1:{((IPEndPoint)silent.LocalEndPoint!).Port}";
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(more: $"""
            [dave]
            type=aor
            contact={answering}
            qualify_frequency=1
            qualify_timeout=1

            [erin]
            type=aor
            contact={quiet}
            qualify_frequency=1
            qualify_timeout=0.5

            """));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        (int ExitCode, string Output, string Error) shown;
        while (true)
        {
            shown = Show(server.ConfigFile, server.Database);
            var done = LineOf(shown.Output, answering)?.Contains("Reachable", StringComparison.Ordinal) == true
                && LineOf(shown.Output, quiet)?.Contains("Unreachable", StringComparison.Ordinal) == true;
            if (done || DateTime.UtcNow >= deadline)
                break;
            await Task.Delay(200);
        }

        Assert.That(shown.ExitCode, Is.Zero, shown.Error);
        Assert.That(shown.Output, Does.Contain("Status").And.Contain("RTT"));
        var reachable = LineOf(shown.Output, answering);
        Assert.That(reachable, Is.Not.Null, $"{shown.Output}\n--- server ---\n{server.Output}");
        Assert.That(reachable, Does.Contain("Reachable").And.Match(@"\d+(\.\d+)? ms"), $"{shown.Output}\n--- server ---\n{server.Output}");
        var unreachable = LineOf(shown.Output, quiet);
        Assert.That(unreachable, Does.Contain("Unreachable"), $"{shown.Output}\n--- server ---\n{server.Output}");
        Assert.That(unreachable, Does.Not.Match(@"\d ms"), "no round-trip time without an answer");
    }
}
