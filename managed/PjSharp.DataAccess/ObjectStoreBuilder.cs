using Microsoft.Extensions.Logging;

namespace PjSharp.DataAccess;

/// <summary>
/// Configures an <see cref="ObjectStore"/>: named backends, the chain each type reads and writes through, and caches.
/// </summary>
/// <example>
/// <code>
/// var store = new ObjectStoreBuilder()
///     .AddBackend("config", PjsipConfBackend.Load("/etc/pjsharp/pjsip.conf"))
///     .AddBackend("sqlite", await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = "pjsharp.db" }))
///     .Map(Endpoint.Type, "config", "sqlite")
///     .Map(Contact.Type, "sqlite")
///     .Cache(Endpoint.Type, TimeSpan.FromMinutes(5))
///     .Build();
/// </code>
/// </example>
public sealed class ObjectStoreBuilder
{
    private readonly List<(string Name, IObjectBackend Backend)> _backends = [];
    private readonly Dictionary<ObjectType, List<string>> _maps = [];
    private readonly Dictionary<ObjectType, (TimeSpan Expiry, int Maximum)> _caches = [];
    private ILoggerFactory? _loggerFactory;
    private TimeProvider _time = TimeProvider.System;

    /// <summary>The default cache lifetime of <see cref="UseEmbeddedDefaults"/>.</summary>
    public static TimeSpan DefaultCacheExpiry { get; } = TimeSpan.FromMinutes(5);

    /// <summary>Adds a backend under <paramref name="name"/>; the store will own and dispose it.</summary>
    public ObjectStoreBuilder AddBackend(string name, IObjectBackend backend)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(backend);
        if (_backends.Any(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase)))
            throw new ArgumentException($"a backend named '{name}' was already added", nameof(name));
        _backends.Add((name, backend));
        return this;
    }

    /// <summary>Maps <paramref name="type"/> to the named backends, in read order (replacing an earlier mapping).</summary>
    public ObjectStoreBuilder Map(ObjectType type, params string[] backendNames)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(backendNames);
        if (backendNames.Length == 0)
            throw new ArgumentException($"map {type.Name} to at least one backend", nameof(backendNames));
        _maps[type] = [.. backendNames];
        return this;
    }

    /// <summary>Maps the type named <paramref name="typeName"/> (<c>endpoint</c>, <c>contact</c>, ...) to the named backends.</summary>
    public ObjectStoreBuilder Map(string typeName, params string[] backendNames) => Map(ObjectTypes.Get(typeName), backendNames);

    /// <summary>Caches objects of <paramref name="type"/> by id for <paramref name="expiry"/>.</summary>
    public ObjectStoreBuilder Cache(ObjectType type, TimeSpan expiry, int maximumObjects = 0)
    {
        ArgumentNullException.ThrowIfNull(type);
        _caches[type] = (expiry, maximumObjects);
        return this;
    }

    /// <summary>Stops caching <paramref name="type"/>.</summary>
    public ObjectStoreBuilder NoCache(ObjectType type)
    {
        _caches.Remove(type);
        return this;
    }

    /// <summary>
    /// The embedded server's default: configuration types read the config file first and then the database (where
    /// run-time additions are written); contacts live in the database only; every type is cached for <paramref name="cacheExpiry"/>.
    /// </summary>
    public ObjectStoreBuilder UseEmbeddedDefaults(IObjectBackend configFile, IObjectBackend database, TimeSpan? cacheExpiry = null)
    {
        AddBackend("config", configFile);
        AddBackend("database", database);
        foreach (var type in ObjectTypes.All)
        {
            if (type.IsDynamic)
                Map(type, "database");
            else
                Map(type, "config", "database");
            Cache(type, cacheExpiry ?? DefaultCacheExpiry);
        }
        return this;
    }

    /// <summary>
    /// Applies a mapping read from configuration (for example <c>appsettings.json</c>):
    /// <c>{"Map": {"endpoint": ["config", "database"]}, "Cache": {"endpoint": "00:05:00"}}</c>.
    /// </summary>
    public ObjectStoreBuilder Configure(ObjectStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        foreach (var (typeName, names) in options.Map)
            Map(typeName, [.. names]);
        foreach (var (typeName, expiry) in options.Cache)
        {
            if (expiry <= TimeSpan.Zero)
                NoCache(ObjectTypes.Get(typeName));
            else
                Cache(ObjectTypes.Get(typeName), expiry);
        }
        return this;
    }

    /// <summary>Logs through <paramref name="loggerFactory"/>.</summary>
    public ObjectStoreBuilder UseLoggerFactory(ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory;
        return this;
    }

    /// <summary>Uses <paramref name="timeProvider"/> for cache expiry (tests).</summary>
    public ObjectStoreBuilder UseTimeProvider(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _time = timeProvider;
        return this;
    }

    /// <summary>Creates the store.</summary>
    public ObjectStore Build()
    {
        var mappings = new Dictionary<ObjectType, ObjectStore.Mapping>();
        foreach (var (type, names) in _maps)
        {
            var members = new List<IObjectBackend>();
            foreach (var name in names)
            {
                var backend = _backends.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.OrdinalIgnoreCase)).Backend
                    ?? throw new InvalidOperationException($"{type.Name} is mapped to backend '{name}', which was not added (added: {string.Join(", ", _backends.Select(b => b.Name))})");
                if (!backend.Supports(type))
                    throw new InvalidOperationException($"{type.Name} is mapped to {backend.Name}, which cannot hold {type.Name} objects");
                members.Add(backend);
            }
            var cache = _caches.TryGetValue(type, out var settings) ? new MemoryCache(type, settings.Expiry, _time, settings.Maximum) : null;
            mappings[type] = new ObjectStore.Mapping(type, new BackendChain(members), cache);
        }
        foreach (var type in _caches.Keys)
        {
            if (!mappings.ContainsKey(type))
                throw new InvalidOperationException($"{type.Name} has a cache but no backend mapping");
        }
        return new ObjectStore(mappings, _backends.Select(b => b.Backend).ToList(), _loggerFactory?.CreateLogger<ObjectStore>());
    }
}

/// <summary>A mapping of types to backends, bindable from configuration.</summary>
public sealed class ObjectStoreOptions
{
    /// <summary>Type name to backend names, in read order.</summary>
    public Dictionary<string, List<string>> Map { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Type name to cache lifetime; zero turns the cache off.</summary>
    public Dictionary<string, TimeSpan> Cache { get; } = new(StringComparer.OrdinalIgnoreCase);
}
