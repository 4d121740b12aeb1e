using System.Globalization;
using System.Net;
using System.Text;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Registrar;

/// <summary>A real <c>pjsharp serve --config</c> in a folder of its own, with its SQLite file.</summary>
internal sealed class RegistrarTestServer : IAsyncDisposable
{
    private readonly string[] _extra;
    private readonly IReadOnlyDictionary<string, string?> _environment;

    private RegistrarTestServer(string directory, string[] extra, IReadOnlyDictionary<string, string?> environment)
    {
        Directory = directory;
        _extra = extra;
        _environment = environment;
    }

    /// <summary>Flood limits out of the way, for tests that fail many authentications on purpose.</summary>
    public static IReadOnlyDictionary<string, string?> WithoutFloodLimits { get; } = new Dictionary<string, string?>
    {
        ["PJSHARP__PjSharp__Security__MaxFailedAuthentications"] = "1000000",
        ["PJSHARP__PjSharp__Security__MaxUnidentifiedRequests"] = "1000000",
    };

    public string Directory { get; }

    public string ConfigFile => Path.Combine(Directory, "pjsip.conf");

    public string Database => Path.Combine(Directory, "pjsharp.db");

    public ServerProcess Process { get; private set; } = null!;

    public IPEndPoint Udp => Process.Listening.First(l => l.Protocol == "udp").EndPoint;

    /// <summary>Phones alice, bob, carol (password secret-NAME) with AORs of their names, plus <paramref name="more"/>.</summary>
    public static string Phones(string aorOptions = "", string more = "", params string[] users)
    {
        var text = new StringBuilder("""
            [global]
            type=global
            endpoint_identifier_order=username,ip

            [phone](!)
            type=endpoint
            context=default

            [phone-aor](!)
            type=aor
            max_contacts=5
            minimum_expiration=30
            default_expiration=120
            maximum_expiration=600

            """);
        foreach (var user in users.Length > 0 ? users : ["alice", "bob", "carol"])
        {
            text.Append(CultureInfo.InvariantCulture, $"""

                [{user}](phone)
                auth={user}
                aors={user}

                [{user}]
                type=auth
                username={user}
                password=secret-{user}

                [{user}](phone-aor)
                {aorOptions}

                """);
        }
        return text.Append('\n').Append(more).ToString();
    }

    public static Task<RegistrarTestServer> StartAsync(string configuration, params string[] extra) =>
        StartAsync(configuration, new Dictionary<string, string?>(), extra);

    public static async Task<RegistrarTestServer> StartAsync(string configuration, IReadOnlyDictionary<string, string?> environment, params string[] extra)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("pjsharp-registrar-").FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "pjsip.conf"), configuration);
        var server = new RegistrarTestServer(directory, extra, environment);
        await server.StartProcessAsync();
        return server;
    }

    private async Task StartProcessAsync(int port = 0)
    {
        var options = SipTestServer.Locate().Serve(
            ["--config", ConfigFile, "--db", Database, "--transport", $"udp:127.0.0.1:{port}", .. _extra]) with
        {
            ReadyTimeout = SipTestServer.ReadyTimeout,
            WorkingDirectory = Directory,
            Environment = _environment,
        };
        Process = await ServerProcess.StartAsync(options);
    }

    /// <summary>Kills the server with SIGKILL and starts it again on the same port and files.</summary>
    public async Task KillAndRestartAsync()
    {
        var port = Udp.Port;
        Assert.That(Process.Signal(ProcessSignals.Kill), Is.True, "could not kill the server");
        await Process.WaitForExitAsync(CancellationToken.None);
        await Process.DisposeAsync();
        await StartProcessAsync(port);
    }

    public SipPhone Phone(string user, string? password = null, IPAddress? local = null) =>
        new(Udp, user, password ?? $"secret-{user}", local);

    public string Output => Process.OutputTail(200);

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
