using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PjSharp.DataAccess;
using PjSharp.Hosting;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Observability;

/// <summary>PjSharp:Trace:HepAddress: the SIP trace reaches a HEPv3 collector (here a UDP socket of the test's own).</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class HepTests
{
    /// <summary>One HEPv3 packet, its chunks by type (generic vendor only).</summary>
    private sealed record HepPacket(Dictionary<int, byte[]> Chunks)
    {
        public static HepPacket Parse(ReadOnlySpan<byte> packet)
        {
            Assert.That(Encoding.ASCII.GetString(packet[..4]), Is.EqualTo("HEP3"));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(packet[4..]), Is.EqualTo(packet.Length), "total length");
            var chunks = new Dictionary<int, byte[]>();
            var at = 6;
            while (at < packet.Length)
            {
                var vendor = BinaryPrimitives.ReadUInt16BigEndian(packet[at..]);
                var type = BinaryPrimitives.ReadUInt16BigEndian(packet[(at + 2)..]);
                var length = BinaryPrimitives.ReadUInt16BigEndian(packet[(at + 4)..]);
                Assert.That(vendor, Is.Zero);
                Assert.That(length, Is.GreaterThanOrEqualTo(6).And.LessThanOrEqualTo(packet.Length - at), $"chunk {type}");
                chunks[type] = packet.Slice(at + 6, length - 6).ToArray();
                at += length;
            }
            return new HepPacket(chunks);
        }

        public byte Byte(int type) => Chunks[type].Single();

        public int UInt16(int type) => BinaryPrimitives.ReadUInt16BigEndian(Chunks[type]);

        public uint UInt32(int type) => BinaryPrimitives.ReadUInt32BigEndian(Chunks[type]);

        public string Payload => Encoding.UTF8.GetString(Chunks[15]);
    }

    [Test]
    public async Task Trace_sends_hep3_packets_with_addresses_ports_time_protocol_agent_id_and_the_message()
    {
        SipTestServer.RequireSipp();
        using var collector = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var collectorPort = ((IPEndPoint)collector.Client.LocalEndPoint!).Port;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPjSharp(options =>
            {
                options.Transports.Add("udp:127.0.0.1:0");
                options.WorkerThreads = 1;
                options.Trace.HepAddress = $"127.0.0.1:{collectorPort}";
                options.Trace.HepCaptureId = 4242;
            })
            .UseObjectStore((_, _) => Task.FromResult(Store()));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var server = host.Services.GetRequiredService<PjSharp.Hosting.PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;
            var sippPort = SippRunner.FreeUdpPort();
            var started = DateTimeOffset.UtcNow;
            var result = await SippRunner.RunAsync(new SippOptions
            {
                Scenario = SippRunner.Scenario("options-uac.xml"),
                Target = $"127.0.0.1:{udp.Port}",
                LocalPort = sippPort,
                Timeout = TimeSpan.FromSeconds(20),
                TraceErrors = true,
            });
            Assert.That(result.Successful, Is.EqualTo(1), result.ToString());

            HepPacket? request = null, response = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (request == null || response == null)
            {
                var received = await collector.ReceiveAsync(timeout.Token);
                var packet = HepPacket.Parse(received.Buffer);
                if (packet.Payload.StartsWith("OPTIONS ", StringComparison.Ordinal))
                    request = packet;
                else if (packet.Payload.StartsWith("SIP/2.0 200", StringComparison.Ordinal))
                    response = packet;
            }

            Assert.Multiple(() =>
            {
                foreach (var packet in new[] { request, response })
                {
                    Assert.That(packet.Byte(1), Is.EqualTo(2), "IPv4");
                    Assert.That(packet.Byte(2), Is.EqualTo(17), "UDP");
                    Assert.That(new IPAddress(packet.Chunks[3]), Is.EqualTo(IPAddress.Loopback));
                    Assert.That(new IPAddress(packet.Chunks[4]), Is.EqualTo(IPAddress.Loopback));
                    Assert.That(packet.Byte(11), Is.EqualTo(1), "protocol type SIP");
                    Assert.That(packet.UInt32(12), Is.EqualTo(4242u), "capture agent id");
                    var time = DateTimeOffset.FromUnixTimeSeconds(packet.UInt32(9)).AddTicks(packet.UInt32(10) * 10L);
                    Assert.That(packet.UInt32(10), Is.LessThan(1_000_000u));
                    Assert.That(time, Is.EqualTo(started).Within(TimeSpan.FromSeconds(30)));
                }
                Assert.That(request.UInt16(7), Is.EqualTo(sippPort), "the request comes from SIPp");
                Assert.That(request.UInt16(8), Is.EqualTo(udp.Port), "to the server");
                Assert.That(response.UInt16(7), Is.EqualTo(udp.Port), "the answer comes from the server");
                Assert.That(response.UInt16(8), Is.EqualTo(sippPort), "to SIPp");
                Assert.That(request.Payload, Does.Contain("User-Agent: PjSharp tests (SIPp)"));
                Assert.That(response.Payload, Does.EndWith("\r\n\r\n"), "the whole message");
            });
            Assert.That(server.Trace.Hep!.Sent, Is.GreaterThanOrEqualTo(2));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static ObjectStore Store()
    {
        var store = new ObjectStoreBuilder().AddBackend("memory", new MemoryBackend());
        foreach (var type in ObjectTypes.All)
            store.Map(type, "memory");
        return store.Build();
    }
}
