using System.Net;
using System.Net.Sockets;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sip;

/// <summary>Starting the real pjsharp server for the SIP tests, and what those tests need from the machine.</summary>
internal static class SipTestServer
{
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The server launch, or a failed test that says how to build it.</summary>
    public static ServerLaunch Locate()
    {
        var launch = PjSharpServer.Locate();
        if (launch == null)
            Assert.Fail(PjSharpServer.MissingMessage);
        return launch!;
    }

    /// <summary>Fails the test when SIPp is missing: CI installs it (Debian package sip-tester).</summary>
    public static void RequireSipp()
    {
        if (!SippRunner.IsAvailable)
            Assert.Fail(SippRunner.MissingMessage);
    }

    /// <summary>
    /// A configuration that lets loopback in without authentication: these tests are about
    /// transports and parsing, which must work the same for any endpoint.
    /// </summary>
    public const string OpenConfiguration = """
        [loopback]
        type=endpoint
        context=default

        [loopback]
        type=identify
        endpoint=loopback
        match=127.0.0.0/8,::1

        [global]
        type=global
        endpoint_identifier_order=ip,username
        """;

    private static readonly Lazy<string> s_openFiles = new(() =>
    {
        var directory = Directory.CreateTempSubdirectory("pjsharp-open-").FullName;
        File.WriteAllText(Path.Combine(directory, "pjsip.conf"), OpenConfiguration);
        return directory;
    });

    /// <summary>
    /// Starts <c>pjsharp serve</c> with these transports (port 0) and extra arguments, and waits for
    /// ready; without <c>--config</c> it runs <see cref="OpenConfiguration"/> on a fresh database.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(IEnumerable<string> transports, IEnumerable<string>? extra = null)
    {
        var arguments = new List<string>();
        foreach (var transport in transports)
            arguments.AddRange(["--transport", transport]);
        arguments.AddRange(extra ?? []);
        if (!arguments.Contains("--config"))
            arguments.AddRange(["--config", Path.Combine(s_openFiles.Value, "pjsip.conf")]);
        if (!arguments.Contains("--db"))
            arguments.AddRange(["--db", Path.Combine(s_openFiles.Value, $"{Guid.NewGuid():N}.db")]);
        var options = Locate().Serve(arguments) with { ReadyTimeout = ReadyTimeout };
        return await ServerProcess.StartAsync(options);
    }

    /// <summary>Whether this machine has a usable IPv6 loopback: a UDP socket can bind [::1].</summary>
    public static bool Ipv6LoopbackAvailable()
    {
        if (!Socket.OSSupportsIPv6)
            return false;
        try
        {
            using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>An OPTIONS client run: <paramref name="calls"/> at <paramref name="rate"/>/s, answers must be 200.</summary>
    public static SippOptions Options(ListeningEndpoint target, SippTransport transport, int calls, double rate) => new()
    {
        Scenario = SippRunner.Scenario("options-uac.xml"),
        Target = target.HostPort,
        Transport = transport,
        LocalAddress = target.EndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? "::1" : "127.0.0.1",
        MaxCalls = calls,
        Rate = rate,
        Timeout = TimeSpan.FromSeconds(calls / rate + 15),
        ReceiveTimeout = TimeSpan.FromSeconds(5),
        TraceErrors = true,
    };
}

/// <summary>
/// One pjsharp server for the SIP tests of this namespace, on loopback UDP, TCP and TLS (free ports),
/// with a throwaway CA. Tests that stop or reconfigure a server start their own.
/// </summary>
[SetUpFixture]
public sealed class SharedSipServer
{
    private static ServerProcess? s_server;
    private static TlsTestCertificate? s_pki;

    internal static ServerProcess Server => s_server ?? throw new InvalidOperationException("The shared pjsharp server did not start.");

    internal static TlsTestCertificate Pki => s_pki ?? throw new InvalidOperationException("No test certificates.");

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        s_pki = TlsTestCertificate.Create();
        s_server = await SipTestServer.StartAsync(
            ["udp:127.0.0.1:0", "tcp:127.0.0.1:0", "tls:127.0.0.1:0"],
            ["--tls-cert", s_pki.ServerCertificateFile, "--tls-key", s_pki.ServerKeyFile, "--tls-ca", s_pki.AuthorityFile]);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (s_server != null)
        {
            await s_server.DisposeAsync();
            s_server = null;
        }
        s_pki?.Dispose();
        s_pki = null;
    }

    /// <summary>Fails with the server's output when it is no longer running.</summary>
    internal static void AssertAlive(string after)
    {
        var server = Server;
        if (server.HasExited)
            Assert.Fail($"pjsharp exited (code {server.ExitCode}) after {after}.\n--- output ---\n{server.OutputTail()}");
    }
}
