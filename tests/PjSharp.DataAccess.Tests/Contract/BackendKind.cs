using Microsoft.Extensions.Configuration;
using PjSharp.DataAccess.Sqlite;
using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.Contract;

/// <summary>The backends the contract suite runs against.</summary>
public enum BackendKind
{
    Memory,
    PjsipConf,
    Json,
    Sqlite,
    PostgreSql,
    Chain,
}

/// <summary>Creates a backend of a kind holding the seed objects, and cleans up after it.</summary>
internal sealed class BackendUnderTest : IAsyncDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly List<IAsyncDisposable> _owned = [];
    private string? _schema;

    public IObjectBackend Backend { get; private set; } = null!;

    public static async Task<BackendUnderTest> CreateAsync(BackendKind kind, IReadOnlyList<SipObject> seed)
    {
        var test = new BackendUnderTest();
        try
        {
            test.Backend = await test.OpenAsync(kind, seed);
            return test;
        }
        catch
        {
            await test.DisposeAsync();
            throw;
        }
    }

    private async Task<IObjectBackend> OpenAsync(BackendKind kind, IReadOnlyList<SipObject> seed)
    {
        switch (kind)
        {
            case BackendKind.Memory:
                return await SeedAsync(Own(new MemoryBackend()), seed);
            case BackendKind.PjsipConf:
                return Own(PjsipConfBackend.Load(_directory.Write("pjsip.conf", PjsipConfWriter.Write(seed))));
            case BackendKind.Json:
                var json = _directory.Write("appsettings.json", JsonConfig.Write(seed));
                var configuration = new ConfigurationBuilder().AddJsonFile(json).Build();
                return Own(ConfigurationBackend.Load(configuration.GetSection("PjSip")));
            case BackendKind.Sqlite:
                return await SeedAsync(Own(await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = _directory.File("store.db") })), seed);
            case BackendKind.PostgreSql:
                _schema = TestPostgres.NewSchemaName();
                return await SeedAsync(Own(await TestPostgres.OpenAsync(_schema)), seed);
            default:
                // A read-only file first (holding an object of a type the suite never asks for), then SQLite.
                var file = Own(PjsipConfBackend.Load(_directory.Write("chain.conf", "[global]\ntype=global\n")));
                var sqlite = Own(await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = _directory.File("chain.db") }));
                var chain = Own(new BackendChain(file, sqlite));
                return await SeedAsync(chain, seed.Where(o => o.ObjectType != GlobalSettings.Type).ToList());
        }
    }

    private T Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private static async Task<IObjectBackend> SeedAsync(IObjectBackend backend, IReadOnlyList<SipObject> seed)
    {
        foreach (var value in seed)
            await backend.CreateAsync(value);
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        if (_schema is not null)
            await TestPostgres.DropSchemaAsync(_schema);
        _directory.Dispose();
    }
}

/// <summary>Writes objects as the JSON that <see cref="ConfigurationBackend"/> reads.</summary>
internal static class JsonConfig
{
    public static string Write(IEnumerable<SipObject> objects)
    {
        var root = new Dictionary<string, Dictionary<string, Dictionary<string, object>>>();
        foreach (var value in objects)
        {
            if (!root.TryGetValue(value.ObjectType.Name, out var ofType))
                root[value.ObjectType.Name] = ofType = [];
            var options = new Dictionary<string, object>();
            foreach (var (key, field) in value.ObjectType.ToFields(value, includeDefaults: false))
            {
                // Repeated lines become an array, as the backend reads them.
                if (options.TryGetValue(key, out var existing))
                    options[key] = existing is List<string> list ? [.. list, field] : new List<string> { (string)existing, field };
                else
                    options[key] = field;
            }
            ofType[value.Id] = options;
        }
        return System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object> { ["PjSip"] = root });
    }
}
