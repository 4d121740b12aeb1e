using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PjSharp.DataAccess;
using PjSharp.Hosting;

namespace PjSharp.Server.Tests.Qualify;

/// <summary>A server made by AddPjSharp in this process, over a store in memory holding the given objects.</summary>
internal sealed class ReachTestHost : IAsyncDisposable
{
    private readonly IHost _host;

    private ReachTestHost(IHost host)
    {
        _host = host;
        Server = host.Services.GetRequiredService<PjSharpServer>();
    }

    public PjSharpServer Server { get; }

    public ObjectStore Store => Server.Store;

    public IPEndPoint Udp => Server.Transports.Single().LocalEndPoint;

    public string Target => $"127.0.0.1:{Udp.Port}";

    public static async Task<ReachTestHost> StartAsync(params SipObject[] objects)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddPjSharp(options =>
            {
                options.Transports.Add("udp:127.0.0.1:0");
                options.WorkerThreads = 1;
            })
            .UseObjectStore(async (_, cancellationToken) =>
            {
                var store = new ObjectStoreBuilder().AddBackend("memory", new MemoryBackend());
                foreach (var type in ObjectTypes.All)
                    store.Map(type, "memory");
                var built = store.Build();
                foreach (var item in objects)
                    await built.CreateAsync(item, cancellationToken);
                return built;
            });
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            await StopAsync(host);
            throw;
        }
        return new ReachTestHost(host);
    }

    /// <summary>A phone with an endpoint, auth and AOR of its name (password secret-NAME).</summary>
    public static SipObject[] Phone(string user, uint qualifyFrequency = 0, double qualifyTimeout = 1) =>
    [
        new Endpoint(user) { Auth = [.. new[] { user }], Aors = [.. new[] { user }], Context = "default" },
        new Auth(user) { Username = user, Password = $"secret-{user}" },
        new Aor(user) { MaxContacts = 1, QualifyFrequency = qualifyFrequency, QualifyTimeout = qualifyTimeout },
    ];

    /// <summary>Polls the store until the status of <paramref name="contactId"/> satisfies <paramref name="condition"/>; the last one read either way.</summary>
    public async Task<ContactStatus?> WaitForStatusAsync(string contactId, Func<ContactStatus?, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var status = await Store.GetAsync<ContactStatus>(contactId);
            if (condition(status) || DateTime.UtcNow >= deadline)
                return status;
            await Task.Delay(50);
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync(_host));

    // pjsip allows one endpoint per process: the next test's host needs this one gone.
    private static async Task StopAsync(IHost host)
    {
        await host.StopAsync();
        if (host is IAsyncDisposable disposable)
            await disposable.DisposeAsync();
        else
            host.Dispose();
    }
}
