using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PjSharp.Hosting;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Hosting;

/// <summary>Admission control: past the pool limit new requests get 503 before pjsip makes a transaction for them.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class OverloadTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    [Test]
    public async Task Past_the_pool_limit_new_requests_get_503_with_retry_after_and_dialog_requests_pass_until_the_limit_is_raised()
    {
        var logs = new MemoryLoggerProvider();
        using var host = await StartAsync(logs, options =>
        {
            // Fewer pools than an idle endpoint holds: overloaded from the first request.
            options.MaxPools = 1;
            options.OverloadRetryAfterSeconds = 7;
        });
        try
        {
            var server = host.Services.GetRequiredService<PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;

            var refused = await SipWire.UdpAsync(udp, local => SipRequestText.Options("UDP", local, udp).ToBytes(), Timeout);
            Assert.That(refused.Status, Is.EqualTo(503), refused.ToString());
            Assert.That(SipWire.HeaderValues(refused.Message, "Retry-After"), Is.EqualTo(new[] { "7" }));
            Assert.That(server.Overload.IsOverloaded, Is.True);

            // A request inside a dialog is let through to whatever handles it (here nothing: not a 503).
            var inDialog = await SipWire.UdpAsync(udp, local =>
            {
                var request = SipRequestText.Options("UDP", local, udp);
                return request.Replace("To", $"<sip:ping@{SipRequestText.HostPort(udp)}>;tag=established").ToBytes();
            }, Timeout);
            Assert.That(inDialog.Status, Is.Not.EqualTo(503), inDialog.ToString());

            server.Overload.MaxPools = 1_000_000;
            var answered = await SipWire.UdpAsync(udp, local => SipRequestText.Options("UDP", local, udp).ToBytes(), Timeout);
            Assert.That(answered.Status, Is.EqualTo(200), answered.ToString());
            Assert.That(server.Overload.IsOverloaded, Is.False);

            var events = logs.Entries.Where(e => e.Category == "PjSharp.Overload").Select(e => e.Id.Id).ToList();
            Assert.That(events, Is.EqualTo(new[] { 6020, 6021 }), "one line when admission stops, one when it resumes");
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public async Task Options_are_answered_without_a_transaction()
    {
        using var host = await StartAsync(new MemoryLoggerProvider(), _ => { });
        try
        {
            var server = host.Services.GetRequiredService<PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;
            var before = server.Endpoint.TransactionCount;

            for (var i = 0; i < 20; i++)
            {
                var answer = await SipWire.UdpAsync(udp, local => SipRequestText.Options("UDP", local, udp).ToBytes(), Timeout);
                Assert.That(answer.Status, Is.EqualTo(200), answer.ToString());
                Assert.That(SipWire.HeaderValues(answer.Message, "Allow"), Is.Not.Empty, "the capabilities come with the stateless answer");
            }

            // A stateful answer would keep each transaction for timer J's 32 s.
            Assert.That(server.Endpoint.TransactionCount, Is.EqualTo(before));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static async Task<IHost> StartAsync(MemoryLoggerProvider logs, Action<PjSharpOptions> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddProvider(logs);
        builder.Services.AddPjSharp(options =>
        {
            options.Transports.Add("udp:127.0.0.1:0");
            options.WorkerThreads = 1;
            configure(options);
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
