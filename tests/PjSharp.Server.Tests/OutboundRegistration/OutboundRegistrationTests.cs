using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.OutboundRegistration;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Transports;

namespace PjSharp.Server.Tests.OutboundRegistration;

/// <summary>
/// Outbound registrations with a real pjsip endpoint on loopback and SIPp as the registrar: the
/// scenarios check what goes on the wire (credentials, refresh, Expires: 0), the tests check the
/// states and the <c>registration_status</c> objects written.
/// </summary>
[NonParallelizable]
public sealed class OutboundRegistrationTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [OneTimeSetUp]
    public void RequireSipp() => SipTestServer.RequireSipp();

    [Test]
    public async Task Retries_a_503_answers_the_challenge_refreshes_and_unregisters_on_stop()
    {
        await using var host = await RegistrationHost.StartAsync();
        await using var registrar = await SippCallee.StartAsync("register-uas-retry-auth.xml", host.Target, TimeSpan.FromSeconds(40));
        var service = await host.StartAsync(RegistrationHost.Trunk(registrar.Port) with { Expiration = 300 });

        var registered = await service.WaitForAsync("trunk", s => s.State == RegistrationState.Registered).WaitAsync(Patience);
        Assert.That(host.History.Select(s => (s.State, s.LastStatusCode)), Does.Contain((RegistrationState.Retrying, 503u)),
            "the 503 was a temporary failure, retried");
        Assert.That(registered.LastStatusCode, Is.EqualTo(200));
        Assert.That(registered.GrantedExpiration, Is.EqualTo(8), "the registrar's grant, not the 300 s asked for");
        Assert.That(registered.Retries, Is.Zero, "a success resets the retries");
        Assert.That(registered.ExpiresAt, Is.EqualTo(DateTimeOffset.UtcNow.AddSeconds(8)).Within(TimeSpan.FromSeconds(3)));
        var stored = await host.Store.GetAsync<RegistrationStatus>("trunk");
        Assert.That(stored?.State, Is.EqualTo(RegistrationState.Registered), "written to the store");

        // Granted 8 s: the refresh goes out at half time, before they run out, and extends the expiry.
        var refreshed = await service.WaitForAsync("trunk", s => s.State == RegistrationState.Registered && s.ExpiresAt > registered.ExpiresAt)
            .WaitAsync(TimeSpan.FromSeconds(8));
        Assert.That(refreshed.ExpiresAt - registered.ExpiresAt, Is.LessThan(TimeSpan.FromSeconds(8)), "refreshed before expiry");

        await service.StopAsync(TimeSpan.FromSeconds(5));
        var final = service.GetStatus("trunk")!;
        Assert.That(final.State, Is.EqualTo(RegistrationState.Unregistered), "Expires: 0 answered 200");
        Assert.That((await host.Store.GetAsync<RegistrationStatus>("trunk"))?.State, Is.EqualTo(RegistrationState.Unregistered));
        await registrar.AssertSucceededAsync();
    }

    [Test]
    public async Task Forbidden_without_a_forbidden_retry_interval_stops_for_good()
    {
        await using var host = await RegistrationHost.StartAsync();
        await using var registrar = await SippCallee.StartAsync("register-uas-forbidden.xml", host.Target);
        var service = await host.StartAsync(RegistrationHost.Trunk(registrar.Port) with { ForbiddenRetryInterval = 0, FatalRetryInterval = 0 });

        var rejected = await service.WaitForAsync("trunk", s => s.State == RegistrationState.Rejected).WaitAsync(Patience);
        Assert.That(rejected.LastStatusCode, Is.EqualTo(403));
        Assert.That(rejected.NextAttempt, Is.EqualTo(DateTimeOffset.UnixEpoch), "nothing scheduled");
        // SIPp fails its call if another REGISTER comes within 3 s (retry_interval is 1 s).
        await registrar.AssertSucceededAsync();
        Assert.That(service.GetStatus("trunk")!.State, Is.EqualTo(RegistrationState.Rejected));
        await service.StopAsync(TimeSpan.FromSeconds(2));
        Assert.That(service.GetStatus("trunk")!.State, Is.EqualTo(RegistrationState.Rejected), "a rejected registration is not unregistered");
    }

    [Test]
    public async Task Credentials_rejected_twice_are_permanent_with_auth_rejection_permanent()
    {
        await using var host = await RegistrationHost.StartAsync();
        await using var registrar = await SippCallee.StartAsync("register-uas-auth-rejected.xml", host.Target);
        var service = await host.StartAsync(RegistrationHost.Trunk(registrar.Port) with { AuthRejectionPermanent = true });

        var rejected = await service.WaitForAsync("trunk", s => s.State == RegistrationState.Rejected).WaitAsync(Patience);
        Assert.That(rejected.LastStatusCode, Is.EqualTo(401));
        await registrar.AssertSucceededAsync();
        Assert.That(service.GetStatus("trunk")!.State, Is.EqualTo(RegistrationState.Rejected));
    }

    [Test]
    public async Task A_registration_deleted_from_the_store_is_unregistered_and_its_status_removed()
    {
        await using var host = await RegistrationHost.StartAsync();
        await using var registrar = await SippCallee.StartAsync("register-uas.xml", host.Target);
        var service = await host.StartAsync(RegistrationHost.Trunk(registrar.Port), followChanges: true);
        await service.WaitForAsync("trunk", s => s.State == RegistrationState.Registered).WaitAsync(Patience);

        await host.Store.DeleteAsync<Registration>("trunk");
        // SIPp's scenario ends with the REGISTER carrying Expires: 0.
        await registrar.AssertSucceededAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while ((service.GetStatus("trunk") != null || await host.Store.GetAsync<RegistrationStatus>("trunk") != null) && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.That(service.GetStatus("trunk"), Is.Null, "no longer running");
        Assert.That(await host.Store.GetAsync<RegistrationStatus>("trunk"), Is.Null, "its status object is deleted");
        Assert.That(service.Statuses, Is.Empty);
    }

    /// <summary>A pjsip endpoint on loopback UDP with an in-memory store holding the trunk's auth.</summary>
    private sealed class RegistrationHost : IAsyncDisposable
    {
        private readonly ILoggerFactory _loggers;
        private OutboundRegistrationService? _service;

        private RegistrationHost(SipEndpoint endpoint, ObjectStore store, ILoggerFactory loggers)
        {
            Endpoint = endpoint;
            Store = store;
            _loggers = loggers;
        }

        public SipEndpoint Endpoint { get; }

        public ObjectStore Store { get; }

        public ConcurrentQueue<RegistrationStatus> History { get; } = new();

        public string Target => string.Create(CultureInfo.InvariantCulture,
            $"127.0.0.1:{Endpoint.Transports.First(t => t.Protocol == SipTransportProtocol.Udp).LocalEndPoint.Port}");

        public static Registration Trunk(int registrarPort) => new("trunk")
        {
            ServerUri = string.Create(CultureInfo.InvariantCulture, $"sip:127.0.0.1:{registrarPort}"),
            ClientUri = "sip:reguser@127.0.0.1",
            ContactUser = "reguser",
            OutboundAuth = ValueList.Create<string>(["trunk-auth"]),
            MaxRandomInitialDelay = 0,
            RetryInterval = 1,
            MaxRetries = 3,
        };

        public static async Task<RegistrationHost> StartAsync()
        {
            var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug));
            var options = new SipEndpointOptions { WorkerThreads = 2, NativeLogLevel = 1 };
            options.Transports.Add(new SipTransportOptions(SipTransportProtocol.Udp, new IPEndPoint(IPAddress.Loopback, 0)));
            var endpoint = SipEndpoint.Create(options, loggers);
            endpoint.Start();
            var builder = new ObjectStoreBuilder().AddBackend("memory", new MemoryBackend());
            foreach (var type in ObjectTypes.All)
                builder.Map(type, "memory");
            var store = builder.Build();
            await store.CreateAsync(new Auth("trunk-auth") { Username = "reguser", Password = "reg-secret", Realm = "pjsharp.test" });
            return new RegistrationHost(endpoint, store, loggers);
        }

        public async Task<OutboundRegistrationService> StartAsync(Registration registration, bool followChanges = false)
        {
            await Store.CreateAsync(registration);
            _service = new OutboundRegistrationService(Endpoint, Store, new OutboundRegistrationOptions { UserAgent = "PjSharp tests", FollowChanges = followChanges },
                _loggers.CreateLogger("PjSharp.OutboundRegistration"));
            _service.StatusChanged += (_, e) => History.Enqueue(e.Status);
            await _service.StartAsync();
            return _service;
        }

        public async ValueTask DisposeAsync()
        {
            if (_service != null)
                await _service.StopAsync(TimeSpan.FromSeconds(2));
            Endpoint.Stop();
            await Endpoint.DisposeAsync();
            await Store.DisposeAsync();
            _loggers.Dispose();
        }
    }
}
