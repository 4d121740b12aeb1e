using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using PjSharp.DataAccess;
using PjSharp.Hosting;
using PjSharp.Interception;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Hosting;

/// <summary>PjSharp as a .NET application hosts it: AddPjSharp on the Generic Host, in this process.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class AddPjSharpTests
{
    /// <summary>A user stage: counts what it sees, and turns away one user with 403.</summary>
    private sealed class CountingStage() : InterceptionStage("counting", InterceptionOrder.Identify + 50)
    {
        public int Seen;

        public override InterceptionVerdict OnRequest(ref InterceptionContext context)
        {
            Interlocked.Increment(ref Seen);
            return InterceptionVerdict.Continue;
        }
    }

    /// <summary>A store that keeps every object type in memory, holding <paramref name="objects"/>.</summary>
    private static Task<ObjectStore> MemoryStoreAsync(params SipObject[] objects)
    {
        var store = new ObjectStoreBuilder().AddBackend("memory", new MemoryBackend());
        foreach (var type in ObjectTypes.All)
            store.Map(type, "memory");
        var built = store.Build();
        return Task.Run(async () =>
        {
            foreach (var item in objects)
                await built.CreateAsync(item);
            return built;
        });
    }

    [Test]
    public async Task Host_runs_the_registrar_with_a_user_stage_and_a_store_from_dependency_injection()
    {
        var stage = new CountingStage();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPjSharp(options =>
            {
                options.Transports.Add("udp:127.0.0.1:0");
                options.WorkerThreads = 1;
            })
            .AddStage(stage)
            // Configuration and contacts in memory: a store of the application's choosing.
            .UseObjectStore((_, _) => MemoryStoreAsync(
                new Endpoint("alice") { Auth = [.. new[] { "alice" }], Aors = [.. new[] { "alice" }] },
                new Auth("alice") { Username = "alice", Password = "secret-alice" },
                new Aor("alice") { MaxContacts = 1 }));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var server = host.Services.GetRequiredService<PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;
            using var alice = new SipPhone(udp, "alice", "secret-alice");

            var answer = await alice.RegisterAsync();

            Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer);
            Assert.That(stage.Seen, Is.EqualTo(2), "the user stage saw the REGISTER and its authenticated retry");
            Assert.That(await server.Store.FindByPrefixAsync<Contact>(Contact.IdPrefix("alice")), Has.Count.EqualTo(1));
            var arenasGiven = Environment.GetEnvironmentVariable(PjSharp.Interop.MallocArenas.EnvironmentVariable);
            Assert.That(PjSharp.Interop.MallocArenas.Applied, Is.EqualTo(arenasGiven is null ? 2 : int.Parse(arenasGiven, System.Globalization.CultureInfo.InvariantCulture)),
                "glibc's malloc arenas are limited at start unless the environment sets them");
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public async Task MapInvite_routes_calls_to_the_applications_handler()
    {
        SipTestServer.RequireSipp();
        var calls = 0;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPjSharp(options =>
            {
                options.Transports.Add("udp:127.0.0.1:0");
                options.WorkerThreads = 1;
                options.Sessions.RtpPortStart = 32000;
                options.Sessions.RtpPortEnd = 32200;
            })
            .MapInvite("hello", async (session, ended) =>
            {
                Interlocked.Increment(ref calls);
                await session.AnswerAsync();
                await session.Completion;
            })
            // A trunk matched by its address: calls from loopback need no credentials.
            .UseObjectStore((_, _) => MemoryStoreAsync(
                new Endpoint("trunk") { Allow = [.. new[] { "ulaw" }] },
                new Identify("trunk") { Endpoint = "trunk", MatchNetworks = [.. new[] { IPNetwork.Parse("127.0.0.0/8") }] }));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var server = host.Services.GetRequiredService<PjSharpServer>();
            var udp = server.Transports.Single().LocalEndPoint;
            var result = await PjSharp.Testing.Sipp.SippRunner.RunAsync(new PjSharp.Testing.Sipp.SippOptions
            {
                Scenario = PjSharp.Testing.Sipp.SippRunner.Scenario("call-uac.xml"),
                Target = $"127.0.0.1:{udp.Port}",
                Service = "hello",
                MaxCalls = 2,
                Timeout = TimeSpan.FromSeconds(20),
                TraceErrors = true,
                ExtraArguments = ["-d", "100"],
            });
            Assert.That(result.Successful, Is.EqualTo(2), result.ToString());
            Assert.That(calls, Is.EqualTo(2));
            Assert.That(host.Services.GetRequiredService<SessionsComponent>().Service!.SessionsStarted, Is.EqualTo(2));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Test]
    public void Invalid_options_stop_the_host_at_start_naming_the_key()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPjSharp(options =>
        {
            options.Transports.Add("carrier-pigeon:127.0.0.1:5060");
            options.WorkerThreads = -1;
            options.MallocArenas = -1;
            options.Sessions.RtpPortStart = 20000;
            options.Sessions.RtpPortEnd = 10000;
            options.Sessions.MediaAddress = "not-an-address";
        });
        using var host = builder.Build();

        var failure = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync())!;

        Assert.That(failure.Failures, Has.Some.StartsWith("PjSharp:Transports:0:"));
        Assert.That(failure.Failures, Has.Some.StartsWith("PjSharp:WorkerThreads:"));
        Assert.That(failure.Failures, Has.Some.StartsWith("PjSharp:MallocArenas:"));
        Assert.That(failure.Failures, Has.Some.StartsWith("PjSharp:Sessions:RtpPortEnd:"));
        Assert.That(failure.Failures, Has.Some.StartsWith("PjSharp:Sessions:MediaAddress:"));
    }
}
