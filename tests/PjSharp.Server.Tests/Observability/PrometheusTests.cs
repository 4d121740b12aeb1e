using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using PjSharp.DataAccess;
using PjSharp.Hosting;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Observability;

/// <summary>PjSharp:Telemetry in the server: a Prometheus scrape endpoint and OTLP, each off unless configured.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class PrometheusTests
{
    private static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddPjSharp(options =>
            {
                options.Transports.Add("udp:127.0.0.1:0");
                options.WorkerThreads = 1;
            })
            .UseObjectStore((_, _) => Task.Run(async () =>
            {
                var store = new ObjectStoreBuilder().AddBackend("memory", new MemoryBackend());
                foreach (var type in ObjectTypes.All)
                    store.Map(type, "memory");
                var built = store.Build();
                await built.CreateAsync(new DataAccess.Endpoint("alice") { Auth = [.. new[] { "alice" }], Aors = [.. new[] { "alice" }] });
                await built.CreateAsync(new Auth("alice") { Username = "alice", Password = "secret-alice" });
                await built.CreateAsync(new Aor("alice") { MaxContacts = 1 });
                return built;
            }));
        builder.Services.AddPjSharpTelemetry(builder.Configuration);
        return builder.Build();
    }

    [Test]
    public async Task Prometheus_scrape_shows_the_sip_counters_and_gauges()
    {
        var port = FreeTcpPort();
        using var host = Build(new() { ["PjSharp:Telemetry:PrometheusAddress"] = $"127.0.0.1:{port}" });
        await host.StartAsync();
        try
        {
            var server = host.Services.GetRequiredService<PjSharp.Hosting.PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;
            using var alice = new SipPhone(udp, "alice", "secret-alice");
            Assert.That(SipWire.StatusOf(await alice.RegisterAsync()), Is.EqualTo(200));

            using var http = new HttpClient();
            var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));

            static double Value(string text, string pattern)
            {
                var match = Regex.Match(text, "^" + pattern + @"\S* (\S+)", RegexOptions.Multiline);
                Assert.That(match.Success, Is.True, $"no line for {pattern} in:\n{text}");
                return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            Assert.Multiple(() =>
            {
                Assert.That(Value(text, @"pjsharp_sip_requests_total\{[^}]*network_io_direction=""receive""[^}]*sip_method=""REGISTER""[^}]*\}"), Is.EqualTo(2));
                Assert.That(Value(text, @"pjsharp_sip_responses_total\{[^}]*sip_method=""REGISTER""[^}]*sip_response_status_code=""401""[^}]*\}"), Is.EqualTo(1));
                Assert.That(Value(text, @"pjsharp_sip_responses_total\{[^}]*sip_method=""REGISTER""[^}]*sip_response_status_code=""200""[^}]*\}"), Is.EqualTo(1));
                Assert.That(Value(text, @"pjsharp_sip_registrations_active"), Is.EqualTo(1));
                Assert.That(Value(text, @"pjsharp_pjsip_pool_used_bytes"), Is.GreaterThan(0));
            });
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public async Task Telemetry_is_off_unless_configured_and_otlp_adds_both_signals()
    {
        using (var off = Build([]))
        {
            Assert.That(off.Services.GetService<MeterProvider>(), Is.Null);
            Assert.That(off.Services.GetService<TracerProvider>(), Is.Null);
        }
        // A collector that is not there: the exporters are configured, and the server starts anyway.
        using var otlp = Build(new() { ["PjSharp:Telemetry:OtlpEndpoint"] = $"http://127.0.0.1:{FreeTcpPort()}" });
        await otlp.StartAsync();
        try
        {
            Assert.That(otlp.Services.GetService<MeterProvider>(), Is.Not.Null);
            Assert.That(otlp.Services.GetService<TracerProvider>(), Is.Not.Null);
        }
        finally
        {
            await otlp.StopAsync();
        }
    }

    [Test]
    public async Task Pjsharp_serve_takes_prometheus_and_hep_from_its_settings()
    {
        using var collector = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = FreeTcpPort();
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(), new Dictionary<string, string?>
        {
            ["PJSHARP__PjSharp__Telemetry__PrometheusAddress"] = $"127.0.0.1:{port}",
            ["PJSHARP__PjSharp__Trace__HepAddress"] = $"127.0.0.1:{((IPEndPoint)collector.Client.LocalEndPoint!).Port}",
        });
        using var alice = server.Phone("alice");
        Assert.That(SipWire.StatusOf(await alice.RegisterAsync()), Is.EqualTo(200), server.Output);

        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        Assert.That(text, Does.Match(@"pjsharp_sip_responses_total\{[^}]*sip_method=""REGISTER""[^}]*sip_response_status_code=""200""[^}]*\} 1\b"), text);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var packet = await collector.ReceiveAsync(timeout.Token);
        Assert.That(System.Text.Encoding.ASCII.GetString(packet.Buffer, 0, 4), Is.EqualTo("HEP3"));
        Assert.That(System.Text.Encoding.UTF8.GetString(packet.Buffer), Does.Contain("REGISTER sip:"));
    }

    [Test]
    public void A_malformed_hep_address_stops_the_host_naming_the_key()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPjSharp(options =>
        {
            options.Transports.Add("udp:127.0.0.1:0");
            options.Trace.HepAddress = "nowhere";
        });
        using var invalid = builder.Build();
        var failure = Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => invalid.StartAsync())!;
        Assert.That(failure.Failures, Has.Some.StartsWith("PjSharp:Trace:HepAddress:"));
    }

    [Test]
    public void A_malformed_prometheus_address_names_the_key()
    {
        var error = Assert.Throws<FormatException>(() => Build(new() { ["PjSharp:Telemetry:PrometheusAddress"] = "no-port" }));
        Assert.That(error!.Message, Does.Contain("PjSharp:Telemetry:PrometheusAddress"));
    }
}
