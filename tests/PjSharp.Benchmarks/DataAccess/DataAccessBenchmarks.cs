using System.Diagnostics;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using PjSharp.DataAccess;
using PjSharp.DataAccess.PostgreSql;
using PjSharp.DataAccess.Sqlite;

namespace PjSharp.Benchmarks.DataAccess;

/// <summary>
/// <c>dotnet run -c Release --project tests/PjSharp.Benchmarks -- dataaccess</c>: endpoint lookup on a cache hit
/// (BenchmarkDotNet, ns and bytes), contact upserts per second on SQLite and PostgreSQL, and the load time of a
/// 10,000-endpoint pjsip.conf. Prints; asserts nothing.
/// </summary>
public static class DataAccessBenchmarks
{
    private static readonly TimeSpan UpsertWindow = TimeSpan.FromSeconds(5);

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var config = ManualConfig.CreateMinimumViable()
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.DisableLogFile);
        BenchmarkRunner.Run<EndpointLookupBenchmark>(config);

        var directory = Directory.CreateTempSubdirectory("pjsharp-bench-");
        try
        {
            await LoadTimeAsync(directory.FullName);
            await SqliteUpsertsAsync(directory.FullName);
            await PostgreSqlUpsertsAsync();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
        return 0;
    }

    private static Task LoadTimeAsync(string directory)
    {
        var path = Path.Combine(directory, "pjsip.conf");
        File.WriteAllText(path, GenerateConfig(10_000));
        var times = new List<double>();
        for (var run = 0; run < 5; run++)
        {
            var clock = Stopwatch.StartNew();
            var backend = PjsipConfBackend.Load(path);
            clock.Stop();
            times.Add(clock.Elapsed.TotalMilliseconds);
            if (backend.Count != 30_001)
                throw new InvalidOperationException($"expected 30001 objects, loaded {backend.Count}");
        }
        times.Sort();
        Print($"pjsip.conf load, 10,000 endpoints (+ auths, aors; templates): first {times.Max():F0} ms, median {times[2]:F0} ms, best {times[0]:F0} ms");
        return Task.CompletedTask;
    }

    private static async Task SqliteUpsertsAsync(string directory)
    {
        await using var backend = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = Path.Combine(directory, "bench.db") });
        await using var store = ContactStore(backend);
        var (count, elapsed) = await UpsertLoopAsync(store);
        Print($"SQLite contact upserts (WAL, synchronous=FULL, one at a time): {count / elapsed.TotalSeconds:F0}/s ({count} in {elapsed.TotalSeconds:F1} s)");
    }

    private static async Task PostgreSqlUpsertsAsync()
    {
        var connectionString = Environment.GetEnvironmentVariable("PJSHARP_TEST_POSTGRES") is { Length: > 0 } configured
            ? configured
            : "Host=127.0.0.1;Port=5432;Username=pjsharp;Password=pjsharp;Database=pjsharp_test";
        var schema = "bench_" + Guid.NewGuid().ToString("N")[..8];
        PostgreSqlBackend backend;
        try
        {
            backend = await PostgreSqlBackend.OpenAsync(new PostgreSqlBackendOptions { ConnectionString = connectionString, Schema = schema });
        }
        catch (Exception error) when (error is Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
        {
            Print($"PostgreSQL contact upserts: not measured, server not reachable ({error.Message}); run build/prepare-postgres.sh");
            return;
        }
        await using (var store = ContactStore(backend))
        {
            var (count, elapsed) = await UpsertLoopAsync(store);
            Print($"PostgreSQL contact upserts (loopback, one at a time, with NOTIFY): {count / elapsed.TotalSeconds:F0}/s ({count} in {elapsed.TotalSeconds:F1} s)");
            var (parallelCount, parallelElapsed) = await UpsertLoopAsync(store, writers: 8);
            Print($"PostgreSQL contact upserts (8 concurrent writers): {parallelCount / parallelElapsed.TotalSeconds:F0}/s");
        }
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var drop = connection.CreateCommand();
        drop.CommandText = $"DROP SCHEMA \"{schema}\" CASCADE";
        await drop.ExecuteNonQueryAsync();
    }

    private static ObjectStore ContactStore(IObjectBackend backend) =>
        new ObjectStoreBuilder().AddBackend("db", backend).Map(Contact.Type, "db").Build();

    private static async Task<(int Count, TimeSpan Elapsed)> UpsertLoopAsync(ObjectStore store, int writers = 1)
    {
        var clock = Stopwatch.StartNew();
        var total = 0;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(async writer =>
        {
            for (var i = 0; clock.Elapsed < UpsertWindow; i++)
            {
                // 500 AORs with 2 contacts each: a realistic mix of creates and re-registrations.
                var aor = string.Create(CultureInfo.InvariantCulture, $"ext{(i + (writer * 131)) % 500:D4}");
                var uri = string.Create(CultureInfo.InvariantCulture, $"sip:{aor}@192.0.2.{i % 2 + 1}:5060");
                await store.UpsertAsync(new Contact(Contact.CreateId(aor, uri))
                {
                    Uri = uri,
                    Aor = aor,
                    Endpoint = aor,
                    ExpirationTime = DateTimeOffset.UtcNow.AddHours(1),
                    UserAgent = "Bench Phone/1.0",
                    CallId = string.Create(CultureInfo.InvariantCulture, $"{writer}-{i}@bench"),
                    ViaAddress = "192.0.2.1",
                    ViaPort = 5060,
                    RegistrationServer = "bench",
                });
                Interlocked.Increment(ref total);
            }
        }));
        return (total, clock.Elapsed);
    }

    internal static string GenerateConfig(int endpoints)
    {
        var text = new StringBuilder("[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0:5060\n\n"
            + "[phone](!)\ntype=endpoint\ncontext=phones\ndisallow=all\nallow=ulaw,alaw\ndirect_media=no\n\n"
            + "[phone-auth](!)\ntype=auth\nauth_type=userpass\n\n[phone-aor](!)\ntype=aor\nmax_contacts=1\nremove_existing=yes\n\n");
        for (var i = 0; i < endpoints; i++)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"ext{i:D5}");
            text.Append(CultureInfo.InvariantCulture, $"[{id}](phone)\nauth={id}\naors={id}\ncallerid=\"Phone {i}\" <{i}>\n\n");
            text.Append(CultureInfo.InvariantCulture, $"[{id}](phone-auth)\nusername={id}\npassword=pw{i}\n\n[{id}](phone-aor)\n\n");
        }
        return text.ToString();
    }

    private static void Print(string line) => Console.Out.WriteLine("dataaccess: " + line);
}

/// <summary>Endpoint lookup by id through the store when the memory cache holds it.</summary>
[MemoryDiagnoser]
public class EndpointLookupBenchmark
{
    private ObjectStore _store = null!;

    [GlobalSetup]
    public void Setup()
    {
        var memory = new MemoryBackend();
        for (var i = 0; i < 10_000; i++)
            memory.CreateAsync(new Endpoint(string.Create(CultureInfo.InvariantCulture, $"ext{i:D5}")) { Aors = [$"ext{i:D5}"] }).AsTask().GetAwaiter().GetResult();
        _store = new ObjectStoreBuilder().AddBackend("memory", memory).Map(Endpoint.Type, "memory").Cache(Endpoint.Type, TimeSpan.FromHours(1)).Build();
        for (var i = 0; i < 10_000; i++)
            _store.GetAsync<Endpoint>(string.Create(CultureInfo.InvariantCulture, $"ext{i:D5}")).AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _store.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Description = "GetAsync<Endpoint> cache hit")]
    public Endpoint? CacheHit()
    {
        var pending = _store.GetAsync<Endpoint>("ext04242");
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }
}
