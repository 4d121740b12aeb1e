using System.Net.Sockets;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sip;

/// <summary>SIPp sends OPTIONS to the real server over each transport; every one must be answered 200.</summary>
[TestFixture]
public sealed class OptionsTransportTests
{
    private const int Calls = 200;
    private const double Rate = 100;

    [Test]
    public async Task Udp_200_options_at_100_per_second_are_all_answered_200()
    {
        SipTestServer.RequireSipp();
        var result = await SippRunner.RunAsync(SipTestServer.Options(SharedSipServer.Server.Endpoint("udp"), SippTransport.Udp, Calls, Rate));
        AssertAllAnswered(result);
    }

    [Test]
    public async Task Tcp_200_options_at_100_per_second_are_all_answered_200()
    {
        SipTestServer.RequireSipp();
        var result = await SippRunner.RunAsync(SipTestServer.Options(SharedSipServer.Server.Endpoint("tcp"), SippTransport.Tcp, Calls, Rate));
        AssertAllAnswered(result);
    }

    [Test]
    public async Task Tls_200_options_are_all_answered_200_with_a_certificate_from_the_test_ca()
    {
        var endpoint = SharedSipServer.Server.Endpoint("tls");
        if (SippRunner.SupportsTls)
        {
            var options = SipTestServer.Options(endpoint, SippTransport.Tls, Calls, Rate) with
            {
                TlsCertificateFile = SharedSipServer.Pki.ClientCertificateFile,
                TlsKeyFile = SharedSipServer.Pki.ClientKeyFile,
            };
            AssertAllAnswered(await SippRunner.RunAsync(options));
            return;
        }

        // Debian's SIPp has no TLS: the same load from a managed TLS client that checks the server's chain and name.
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var client = await TlsOptionsClient.ConnectAsync(endpoint.EndPoint, SharedSipServer.Pki, presentClientCertificate: false, cancel.Token);
        var statuses = new Dictionary<int, int>();
        for (var i = 0; i < Calls; i++)
        {
            var answer = await client.OptionsAsync(cancel.Token);
            var status = SipWire.StatusOf(answer);
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            if (answer == null)
                break;
        }
        SharedSipServer.AssertAlive("TLS OPTIONS");
        Assert.That(statuses, Is.EqualTo(new Dictionary<int, int> { [200] = Calls }),
            $"status counts over TLS ({client.Protocol}); 0 = connection closed\n--- server output ---\n{SharedSipServer.Server.OutputTail(30)}");
    }

    [Test]
    public async Task Udp_over_ipv6_loopback_200_options_are_all_answered_200()
    {
        // IPv6 is a deliverable: a machine without ::1 fails here rather than passing quietly.
        Assert.That(SipTestServer.Ipv6LoopbackAvailable(), Is.True, "This machine has no IPv6 loopback (cannot bind [::1]).");
        SipTestServer.RequireSipp();

        await using var server = await SipTestServer.StartAsync(["udp:[::1]:0"]);
        var endpoint = server.Endpoint("udp", AddressFamily.InterNetworkV6);
        Assert.That(endpoint.HostPort, Does.StartWith("[::1]:"));
        var result = await SippRunner.RunAsync(SipTestServer.Options(endpoint, SippTransport.Udp, Calls, Rate));
        Assert.That(server.HasExited, Is.False, $"pjsharp exited during the IPv6 run\n{server.OutputTail()}");
        AssertAllAnswered(result, server);
    }

    private static void AssertAllAnswered(SippResult result, ServerProcess? server = null)
    {
        server ??= SharedSipServer.Server;
        var details = $"{result.Describe()}\n--- server output ---\n{server.OutputTail(30)}";
        Assert.Multiple(() =>
        {
            Assert.That(result.Statistics, Is.Not.Null, details);
            Assert.That(result.Successful, Is.EqualTo(Calls), details);
            Assert.That(result.Failed, Is.Zero, details);
            Assert.That(result.ExitCode, Is.Zero, details);
            Assert.That(server.HasExited, Is.False, details);
        });
    }
}
