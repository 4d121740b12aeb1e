using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PjSharp.DataAccess;
using PjSharp.DataAccess.PostgreSql;
using PjSharp.DataAccess.Sqlite;
using PjSharp.Interception;
using PjSharp.Interception.Security;
using PjSharp.Interception.Stages;
using PjSharp.Interception.Trace;
using PjSharp.Services;
using PjSharp.Transports;

namespace PjSharp.Hosting;

/// <summary>
/// A running PjSharp server: the data access layer (the configuration file, then SQLite), the
/// SIP endpoint with its transports, message interception and the services. Started and
/// stopped by the Generic Host; shutdown lets queued work finish for
/// <see cref="PjSharpOptions.DrainTimeout"/> before pjsip stops.
/// </summary>
public sealed partial class PjSharpServer : IHostedService, IAsyncDisposable
{
    private readonly PjSharpOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly IEnumerable<InterceptionStage> _userStages;
    private readonly IEnumerable<IPjSharpComponent> _components;
    private readonly Meter _meter;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly List<SipService> _services = [];
    private readonly SemaphoreSlim _reload = new(1, 1);
    private int _directoryRebuildPending;
    private readonly NewestWins _directoryRebuilds = new();

    private readonly IServiceProvider _provider;

    public PjSharpServer(
        IOptions<PjSharpOptions> options, ILoggerFactory loggerFactory, IMeterFactory meterFactory,
        IEnumerable<InterceptionStage> stages, IEnumerable<IPjSharpComponent> components, IServiceProvider services)
    {
        _provider = services;
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meterFactory);
        _options = options.Value;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("PjSharp.Server");
        _userStages = stages;
        _components = components;
        _meter = meterFactory.Create(Diagnostics.PjSharpMetrics.MeterName);
    }

    public PjSharpOptions Options => _options;

    public ILoggerFactory LoggerFactory => _loggerFactory;

    /// <summary>The <c>PjSharp</c> meter every part of the server reports to.</summary>
    public Meter Meter => _meter;

    public ObjectStore Store { get; private set; } = null!;

    /// <summary>Contacts live in a database other nodes share (<see cref="PjSharpOptions.PostgreSql"/>).</summary>
    public bool SharesContacts { get; private set; }

    public SipEndpoint Endpoint { get; private set; } = null!;

    public InterceptionPipeline Interception { get; private set; } = null!;

    public SecurityEvents SecurityEvents { get; private set; } = null!;

    /// <summary>Admission control: 503 for new requests while pjsip holds too many pools.</summary>
    public OverloadStage Overload { get; private set; } = null!;

    /// <summary>SIP message counters and pjsip gauges on <see cref="Meter"/>.</summary>
    public Diagnostics.SipMetrics Metrics { get; private set; } = null!;

    /// <summary>The SIP trace: switch it, filter it, point it at a pcap file while the server runs.</summary>
    public SipTrace Trace { get; private set; } = null!;

    /// <summary>Where each AOR can be reached (calls, messages and qualify use it).</summary>
    public Registrar.ContactLocator Contacts { get; private set; } = null!;

    public IReadOnlyList<SipTransportInfo> Transports
    {
        get
        {
            lock (_listening)
                return [.. Endpoint?.Transports ?? [], .. _listening];
        }
    }

    /// <summary>Told each step of <see cref="StartAsync"/> as it begins or ends, in words for a terminal (<c>pjsharp serve</c> prints them).</summary>
    public IProgress<string>? StartupProgress { get; set; }

    private void Report(string step) => StartupProgress?.Report(step);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.MallocArenas > 0 && Interop.MallocArenas.TryLimit(_options.MallocArenas))
            LogMallocArenas(_logger, _options.MallocArenas);
        Store = await OpenStoreAsync(cancellationToken).ConfigureAwait(false);
        var directory = await SecurityDirectory.LoadAsync(Store, cancellationToken).ConfigureAwait(false);

        var endpointOptions = new SipEndpointOptions
        {
            WorkerThreads = _options.WorkerThreads > 0 ? _options.WorkerThreads : Environment.ProcessorCount,
            NativeLogLevel = _options.NativeLogLevel,
            PoolCacheBytes = _options.PoolCacheMegabytes * 1024L * 1024,
        };
        foreach (var transport in await TransportsAsync(cancellationToken).ConfigureAwait(false))
            endpointOptions.Transports.Add(transport);
        Report(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"starting pjsip: {endpointOptions.WorkerThreads} worker threads, binding {string.Join(", ", endpointOptions.Transports)}"));
        Endpoint = SipEndpoint.Create(endpointOptions, _loggerFactory);
        Report("transports bound: " + string.Join(", ", Endpoint.Transports));

        Trace = new SipTrace(_loggerFactory.CreateLogger("PjSharp.SipTrace"));
        Trace.SetAddressFilter(_options.Trace.Addresses.Select(System.Net.IPNetwork.Parse));
        Trace.SetEndpointFilter(_options.Trace.Endpoints);
        if (_options.Trace.PcapFile is { } pcap)
            await Trace.SetPcapFileAsync(pcap).ConfigureAwait(false);
        if (_options.Trace.HepAddress is { } hep)
            await Trace.SetHepAsync(new HepSender(HepSender.ParseAddress(hep), _options.Trace.HepCaptureId)).ConfigureAwait(false);
        Trace.Enabled = _options.Trace.Enabled || _options.Trace.PcapFile != null || _options.Trace.HepAddress != null;
        Register(Trace);
        Metrics = new Diagnostics.SipMetrics(Endpoint, _meter);
        Register(Metrics);

        SecurityEvents = new SecurityEvents(_loggerFactory.CreateLogger("PjSharp.Security"), _meter, TimeProvider.System);
        Interception = new InterceptionPipeline(Endpoint, directory);
        foreach (var stage in BuiltInStages())
            Interception.Add(stage);
        foreach (var stage in _userStages)
            Interception.Add(stage);
        Register(Interception);

        Contacts = new Registrar.ContactLocator(Store);
        Report("starting services");
        foreach (var component in _components)
            await component.StartAsync(this, cancellationToken).ConfigureAwait(false);
        if (_options.AnswerOptions)
            Register(new OptionsService(Endpoint, rejectUnhandled: true, SecurityEvents));

        foreach (var type in new ObjectType[] { DataAccess.Endpoint.Type, Auth.Type, Aor.Type, Identify.Type, Acl.Type, GlobalSettings.Type })
        {
            if (Store.MappedTypes.Contains(type))
                _subscriptions.Add(Store.AddObserver(type, new DirectoryObserver(this)));
        }
        Endpoint.Start();
        LogStarted(_logger, Transports.Count);
    }

    /// <summary>A service that lives as long as the server: registered now, unregistered at stop.</summary>
    public void Register(SipService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        Endpoint.RegisterService(service);
        _services.Add(service);
    }

    /// <summary>Per-source limits on failed authentications and unknown users.</summary>
    public FloodProtection FloodProtection { get; private set; } = null!;

    private IEnumerable<InterceptionStage> BuiltInStages()
    {
        var security = _options.Security;
        FloodProtection = new FloodProtection(new FloodProtectionOptions
        {
            MaxFailedAuthentications = security.MaxFailedAuthentications,
            MaxUnidentifiedRequests = security.MaxUnidentifiedRequests,
            Window = security.FloodWindow,
            BlockTime = security.BlockTime,
            AnswerBlocked = security.AnswerBlocked,
        });
        foreach (var proxy in security.TrustedProxies)
            FloodProtection.Options.Exempt.Add(PjSharpOptionsValidator.ParseNetwork(proxy) ?? throw new FormatException($"PjSharp:Security:TrustedProxies: '{proxy}' is not an address or network"));
        var authentication = new AuthenticationOptions
        {
            NonceSecret = security.NonceSecret is { } secret ? System.Text.Encoding.UTF8.GetBytes(secret) : null,
        };
        foreach (var name in security.DigestAlgorithms)
        {
            authentication.Algorithms.Add(name.ToUpperInvariant() switch
            {
                "SHA-512-256" => DigestAlgorithm.Sha512_256,
                "SHA-256" => DigestAlgorithm.Sha256,
                _ => DigestAlgorithm.Md5,
            });
        }
        foreach (var method in security.UnauthenticatedMethods)
            authentication.UnauthenticatedMethods.Add(method);
        Overload = new OverloadStage(Endpoint, _options.MaxPools > 0 ? _options.MaxPools : OverloadStage.DefaultMaxPools(),
            _options.OverloadRetryAfterSeconds, _loggerFactory.CreateLogger("PjSharp.Overload"), _meter);
        yield return Overload;
        yield return new AclStage(SecurityEvents);
        yield return new FloodStage(FloodProtection, SecurityEvents);
        yield return new IdentifyStage(SecurityEvents);
        yield return new AuthenticationStage(SecurityEvents, FloodProtection, authentication);
    }

    /// <summary>Re-reads the configuration file (SIGHUP); registrations stay as they are.</summary>
    public async Task<IReadOnlyList<ReloadResult>> ReloadAsync(CancellationToken cancellationToken = default)
    {
        await _reload.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var results = await Store.ReloadAsync(cancellationToken).ConfigureAwait(false);
            await RebuildDirectoryAsync(cancellationToken).ConfigureAwait(false);
            foreach (var result in results)
                LogReloaded(_logger, result.Source, result.Applied, result.Changes.Count, result.Diagnostics.Count);
            return results;
        }
        finally
        {
            _reload.Release();
        }
    }

    private async Task RebuildDirectoryAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _directoryRebuildPending, 0);
        // Rebuilds may overlap (a change arriving during one schedules the next).
        var ticket = _directoryRebuilds.Begin();
        var directory = await SecurityDirectory.LoadAsync(Store, cancellationToken).ConfigureAwait(false);
        _directoryRebuilds.TryPublish(ticket, () => Interception.Directory = directory);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Endpoint == null)
            return;
        foreach (var component in _components.Reverse())
            await component.StopAsync(this, _options.DrainTimeout, cancellationToken).ConfigureAwait(false);
        Endpoint.Stop();
        LogStopped(_logger);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var subscription in _subscriptions)
            subscription.Dispose();
        _subscriptions.Clear();
        foreach (var service in _services)
        {
            if (service is IDisposable disposable)
                disposable.Dispose();
        }
        _services.Clear();
        if (Endpoint != null)
            await Endpoint.DisposeAsync().ConfigureAwait(false);
        if (Trace != null)
            await Trace.DisposeAsync().ConfigureAwait(false);
        if (Store != null)
            await Store.DisposeAsync().ConfigureAwait(false);
        SecurityEvents?.Dispose();
        _meter.Dispose();
        _reload.Dispose();
    }

    private async Task<ObjectStore> OpenStoreAsync(CancellationToken cancellationToken)
    {
        if (_provider.GetService(typeof(ObjectStoreFactory)) is ObjectStoreFactory factory)
            return await factory.CreateAsync(_provider, cancellationToken).ConfigureAwait(false);
        var owned = new List<IObjectBackend>();
        try
        {
            Report($"opening database {_options.Database}");
            var database = await SqliteBackend.OpenAsync(
                new SqliteBackendOptions { Path = _options.Database, LoggerFactory = _loggerFactory }, cancellationToken).ConfigureAwait(false);
            owned.Add(database);
            var shared = new HashSet<ObjectType>();
            PostgreSqlBackend? postgres = null;
            if (_options.PostgreSql.ConnectionString is { } connectionString)
            {
                Report("connecting to the shared PostgreSQL database");
                postgres = await OpenSharedDatabaseAsync(connectionString, cancellationToken).ConfigureAwait(false);
                owned.Add(postgres);
                shared.UnionWith(_options.PostgreSql.EffectiveTypes.Select(ObjectTypes.Get));
            }
            var builder = new ObjectStoreBuilder().UseLoggerFactory(_loggerFactory);
            IObjectBackend? config = null;
            if (_options.ConfigFile is { } file)
            {
                Report($"loading {file}");
                var loaded = PjsipConfBackend.Load(file, _loggerFactory.CreateLogger("PjSharp.Config"));
                config = loaded;
                owned.Add(config);
                Report(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"loaded {loaded.Count} objects from {file}"));
                builder.AddBackend("config", config);
            }
            builder.AddBackend("database", database);
            if (postgres != null)
                builder.AddBackend("postgresql", postgres);
            foreach (var type in ObjectTypes.All)
            {
                var store = shared.Contains(type) ? "postgresql" : "database";
                if (config != null && !type.IsDynamic)
                    builder.Map(type, "config", store);
                else
                    builder.Map(type, store);
                if (config != null)
                    builder.Cache(type, ObjectStoreBuilder.DefaultCacheExpiry);
            }
            SharesContacts = shared.Contains(Contact.Type);
            // The registrar keeps each AOR's bindings itself; a second copy in the store's cache would double them.
            builder.NoCache(Contact.Type);
            return builder.Build();
        }
        catch
        {
            foreach (var backend in owned)
                await backend.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens the database the nodes share, waiting for it while it starts: nodes and database often start together.</summary>
    private async Task<PostgreSqlBackend> OpenSharedDatabaseAsync(string connectionString, CancellationToken cancellationToken)
    {
        var options = new PostgreSqlBackendOptions
        {
            ConnectionString = connectionString,
            Schema = _options.PostgreSql.Schema,
            NodeId = _options.NodeName + "/" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            LoggerFactory = _loggerFactory,
        };
        var deadline = DateTime.UtcNow + _options.PostgreSql.StartupTimeout;
        while (true)
        {
            try
            {
                return await PostgreSqlBackend.OpenAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error) when (error is Npgsql.NpgsqlException or TimeoutException && DateTime.UtcNow < deadline)
            {
                LogSharedDatabaseWaiting(_logger, error.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<List<SipTransportOptions>> TransportsAsync(CancellationToken cancellationToken)
    {
        var tls = new SipTlsOptions
        {
            CertificateFile = _options.TlsCertificateFile,
            PrivateKeyFile = _options.TlsPrivateKeyFile,
            CaListFile = _options.TlsCaListFile,
            VerifyClient = _options.TlsVerifyClient,
            RequireClientCertificate = _options.TlsVerifyClient,
        };
        var result = new List<SipTransportOptions>();
        foreach (var text in _options.Transports)
        {
            var transport = SipTransportOptions.Parse(text);
            result.Add(transport.Protocol is SipTransportProtocol.Tls or SipTransportProtocol.Wss ? transport with { Tls = tls } : transport);
        }
        if (result.Count == 0 && Store.MappedTypes.Contains(Transport.Type))
        {
            foreach (var configured in await Store.GetAllAsync<Transport>(cancellationToken).ConfigureAwait(false))
            {
                if (TransportFromConfig(configured) is { } transport)
                    result.Add(transport);
            }
        }
        // WebSocket transports are served by the WebSocket component, one pjsip transport per connection.
        WebSocketTransports = [.. result.Where(t => t.IsWebSocket)];
        result.RemoveAll(t => t.IsWebSocket);
        if (result.Count == 0 && WebSocketTransports.Count == 0)
            result.Add(SipTransportOptions.Parse("udp:127.0.0.1:5060"));
        return result;
    }

    /// <summary>The <c>ws</c> and <c>wss</c> transports configured: the WebSocket component listens on them.</summary>
    public IReadOnlyList<SipTransportOptions> WebSocketTransports { get; private set; } = [];

    private readonly List<SipTransportInfo> _listening = [];

    /// <summary>A transport served outside pjsip (a WebSocket listener), listed with <see cref="Transports"/>.</summary>
    internal void AddListening(SipTransportInfo transport)
    {
        lock (_listening)
            _listening.Add(transport);
    }

    private SipTransportOptions? TransportFromConfig(Transport transport)
    {
        var protocol = transport.Protocol switch
        {
            TransportProtocol.Udp => SipTransportProtocol.Udp,
            TransportProtocol.Tcp => SipTransportProtocol.Tcp,
            TransportProtocol.Tls => SipTransportProtocol.Tls,
            TransportProtocol.WS => SipTransportProtocol.Ws,
            TransportProtocol.Wss => SipTransportProtocol.Wss,
            _ => (SipTransportProtocol?)null,
        };
        if (protocol == null)
        {
            LogTransportSkipped(_logger, transport.Id, transport.Protocol.ToString());
            return null;
        }
        var defaultPort = protocol switch
        {
            SipTransportProtocol.Tls => 5061,
            SipTransportProtocol.Ws => 8088,
            SipTransportProtocol.Wss => 8089,
            _ => 5060,
        };
        var bind = transport.Bind ?? new System.Net.IPEndPoint(System.Net.IPAddress.Any, defaultPort);
        if (bind.Port == 0)
            bind = new System.Net.IPEndPoint(bind.Address, defaultPort);
        var options = new SipTransportOptions(protocol.Value, bind);
        if (protocol == SipTransportProtocol.Wss && transport.CertFile.Length == 0)
        {
            // As Asterisk's wss, which takes its certificate from the HTTP server: the server's TLS options.
            return options with
            {
                Tls = new SipTlsOptions { CertificateFile = _options.TlsCertificateFile, PrivateKeyFile = _options.TlsPrivateKeyFile },
            };
        }
        return protocol is not (SipTransportProtocol.Tls or SipTransportProtocol.Wss) ? options : options with
        {
            Tls = new SipTlsOptions
            {
                CertificateFile = NullIfEmpty(transport.CertFile),
                PrivateKeyFile = NullIfEmpty(transport.PrivKeyFile),
                PrivateKeyPassword = NullIfEmpty(transport.Password),
                CaListFile = NullIfEmpty(transport.CaListFile),
                VerifyClient = transport.VerifyClient,
                VerifyServer = transport.VerifyServer,
                RequireClientCertificate = transport.RequireClientCert,
            },
        };
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    // Configuration objects changed (a database write or a reload): a fresh snapshot, built once per burst.
    private sealed class DirectoryObserver(PjSharpServer server) : IObjectObserver
    {
        public void Created(ObjectChange change) => Schedule();

        public void Updated(ObjectChange change) => Schedule();

        public void Deleted(ObjectChange change) => Schedule();

        public void Reloaded(ObjectType type) => Schedule();

        private void Schedule()
        {
            if (Interlocked.Exchange(ref server._directoryRebuildPending, 1) != 0)
                return;
            _ = Task.Run(async () =>
            {
                try
                {
                    await server.RebuildDirectoryAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception error) when (error is not OutOfMemoryException)
                {
                    LogDirectoryFailed(server._logger, error);
                }
            });
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "PjSharp server started on {Transports} transports")]
    private static partial void LogStarted(ILogger logger, int transports);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "PjSharp server stopped")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Reloaded {Source}: applied={Applied}, {Changes} changes, {Diagnostics} diagnostics")]
    private static partial void LogReloaded(ILogger logger, string source, bool applied, int changes, int diagnostics);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Transport '{Transport}': protocol {Protocol} is not served by pjsip; skipped")]
    private static partial void LogTransportSkipped(ILogger logger, string transport, string protocol);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "The shared PostgreSQL database does not answer yet ({Message}); trying again")]
    private static partial void LogSharedDatabaseWaiting(ILogger logger, string message);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Debug, Message = "glibc malloc limited to {Arenas} arenas")]
    private static partial void LogMallocArenas(ILogger logger, int arenas);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "Rebuilding the security directory after a configuration change failed; the previous one stays")]
    private static partial void LogDirectoryFailed(ILogger logger, Exception exception);
}

/// <summary>
/// A part of the server that starts after interception and stops before pjsip (the registrar,
/// later sessions); registered in dependency injection, started in registration order.
/// </summary>
public interface IPjSharpComponent
{
    Task StartAsync(PjSharpServer server, CancellationToken cancellationToken);

    /// <summary>Stop taking new work and let queued work finish within <paramref name="drainTimeout"/>.</summary>
    Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken);
}
