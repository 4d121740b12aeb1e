using System.Diagnostics;
using System.Globalization;
using PjSharp.DataAccess;
using PjSharp.DataAccess.PostgreSql;
using PjSharp.DataAccess.Sqlite;

namespace PjSharp.Benchmarks.DataAccess;

/// <summary>
/// <c>write-rate</c>: contact writes per second with many concurrent writers, as the registrar makes them (one servant
/// per AOR, each awaiting its write before it answers), on SQLite and PostgreSQL: through <see cref="ContactWriter"/>
/// (group commit: whatever queued while the previous commit ran goes in the next transaction) and, for comparison, one
/// transaction per write (<see cref="ObjectStore.UpsertAsync"/>). Prints writes/s, commits/s, the mean and largest
/// batch and each write's latency. Every write is a refresh of an existing contact (the contacts are created first),
/// and no two writers write the same AOR at once.
/// </summary>
public static class WriteRateBenchmark
{
    /// <summary>PostgreSQL connections at most (Npgsql's pool).</summary>
    private const int MaxConnections = 20;

    private const string Usage = """
        usage: PjSharp.Benchmarks write-rate [options]
          --seconds N        length of each measurement (default 5)
          --writers LIST     concurrent writers, e.g. 1,16,128,1024 (default)
          --aors N           contacts written in turn (default 10000; at least the largest writer count)
          --backends LIST    sqlite,postgresql (default both); PostgreSQL from env PJSHARP_TEST_POSTGRES or
                             the role and database of build/prepare-postgres.sh on 127.0.0.1:5432, at most
                             20 connections
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Options options;
        try
        {
            options = Options.Parse(args.SkipWhile(a => a == "write-rate").ToArray());
        }
        catch (FormatException error)
        {
            await Console.Error.WriteLineAsync($"write-rate: {error.Message}\n\n{Usage}");
            return 2;
        }
        if (options.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Contact write rate: {options.Seconds} s per measurement, {options.Aors} contacts refreshed in turn, writers {string.Join(",", options.Writers)}; {Environment.ProcessorCount} CPUs, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
        Console.WriteLine("one per commit = ObjectStore.UpsertAsync, a transaction each; group commit = ContactWriter.UpsertAsync, batches of what queued during the previous commit");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"backend",-10} {"writers",7} {"mode",-14} {"writes/s",9} {"commits/s",9} {"mean batch",10} {"largest",7} {"p50 ms",7} {"p99 ms",7} {"vs one per commit",17}"));
        var failed = false;
        if (options.Backends.Contains("sqlite"))
            failed |= !await MeasureSqliteAsync(options);
        if (options.Backends.Contains("postgresql"))
            failed |= !await MeasurePostgreSqlAsync(options);
        return failed ? 1 : 0;
    }

    private static async Task<bool> MeasureSqliteAsync(Options options)
    {
        var directory = Directory.CreateTempSubdirectory("pjsharp-write-rate-");
        try
        {
            await using var backend = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = Path.Combine(directory.FullName, "contacts.db") });
            await using var store = ContactStore(backend);
            await MeasureAsync("SQLite", store, options);
            return true;
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task<bool> MeasurePostgreSqlAsync(Options options)
    {
        var connectionString = Environment.GetEnvironmentVariable("PJSHARP_TEST_POSTGRES") is { Length: > 0 } configured
            ? configured
            : "Host=127.0.0.1;Port=5432;Username=pjsharp;Password=pjsharp;Database=pjsharp_test";
        // The server's connections are shared (max_connections, 100 by default): a bounded pool, as an application has;
        // more writers than connections wait for one.
        connectionString = new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = MaxConnections }.ConnectionString;
        var schema = "bench_" + Guid.NewGuid().ToString("N")[..8];
        PostgreSqlBackend backend;
        try
        {
            backend = await PostgreSqlBackend.OpenAsync(new PostgreSqlBackendOptions { ConnectionString = connectionString, Schema = schema });
        }
        catch (Exception error) when (error is Npgsql.NpgsqlException or System.Net.Sockets.SocketException)
        {
            Console.WriteLine($"PostgreSQL: not measured, server not reachable ({error.Message}); run build/prepare-postgres.sh");
            return false;
        }
        try
        {
            await using var store = ContactStore(backend);
            await MeasureAsync("PostgreSQL", store, options);
        }
        finally
        {
            // The store disposed the backend.
            await using var connection = new Npgsql.NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var drop = connection.CreateCommand();
            drop.CommandText = $"DROP SCHEMA \"{schema}\" CASCADE";
            await drop.ExecuteNonQueryAsync();
        }
        return true;
    }

    private static ObjectStore ContactStore(IObjectBackend backend) =>
        new ObjectStoreBuilder().AddBackend("db", backend).Map(Contact.Type, "db").NoCache(Contact.Type).Build();

    private static async Task MeasureAsync(string name, ObjectStore store, Options options)
    {
        // Every contact exists first: the measured writes are refreshes, as most registrations are.
        await using (var writer = new ContactWriter(store))
        {
            await Task.WhenAll(Enumerable.Range(0, options.Aors).Select(i => writer.UpsertAsync(NewContact(i, 0))));
        }
        foreach (var writers in options.Writers)
        {
            var single = await RunAsync(options, writers, (contact, _) => store.UpsertAsync(contact).AsTask(), () => null);
            Print(name, writers, "one per commit", single, null);
            Measurement grouped;
            await using (var writer = new ContactWriter(store))
                grouped = await RunAsync(options, writers, (contact, _) => writer.UpsertAsync(contact), () => (writer.BatchesCommitted, writer.LargestBatch));
            Print(name, writers, "group commit", grouped, single);
        }
    }

    private sealed record Measurement(long Writes, TimeSpan Elapsed, long Commits, int LargestBatch, double P50, double P99);

    /// <summary>
    /// <paramref name="writers"/> loops, each writing its own AORs (writer w takes w, w + writers, ...) and awaiting each
    /// write before the next, until the window closes.
    /// </summary>
    private static async Task<Measurement> RunAsync(Options options, int writers, Func<Contact, int, Task> write, Func<(long Batches, int Largest)?> counters)
    {
        var window = TimeSpan.FromSeconds(options.Seconds);
        var before = counters();
        var latencies = new List<long>[writers];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var mine = latencies[w] = new List<long>(4096);
            for (var round = 1; clock.Elapsed < window; round++)
            {
                for (var aor = w; aor < options.Aors && clock.Elapsed < window; aor += writers)
                {
                    var started = Stopwatch.GetTimestamp();
                    await write(NewContact(aor, round), w);
                    mine.Add(Stopwatch.GetTimestamp() - started);
                }
            }
        })));
        var elapsed = clock.Elapsed;
        var after = counters();
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double Percentile(double share) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(share * all.Length))] * 1000.0 / Stopwatch.Frequency;
        var commits = after is { } a && before is { } b ? a.Batches - b.Batches : all.Length;
        return new Measurement(all.Length, elapsed, commits, after?.Largest ?? 1, Percentile(0.50), Percentile(0.99));
    }

    private static void Print(string backend, int writers, string mode, Measurement m, Measurement? baseline)
    {
        var rate = m.Writes / m.Elapsed.TotalSeconds;
        var versus = baseline == null ? "" : string.Create(CultureInfo.InvariantCulture, $"x {rate / (baseline.Writes / baseline.Elapsed.TotalSeconds):0.0}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{backend,-10} {writers,7} {mode,-14} {rate,9:0} {m.Commits / m.Elapsed.TotalSeconds,9:0} {(m.Commits > 0 ? (double)m.Writes / m.Commits : 0),10:0.0} {m.LargestBatch,7} {m.P50,7:0.00} {m.P99,7:0.00} {versus,17}"));
    }

    private static Contact NewContact(int index, int round)
    {
        var aor = string.Create(CultureInfo.InvariantCulture, $"u{index:D5}");
        var uri = string.Create(CultureInfo.InvariantCulture, $"sip:{aor}@192.0.2.{index % 250 + 1}:5060");
        return new Contact(Contact.CreateId(aor, uri))
        {
            Uri = uri,
            Aor = aor,
            Endpoint = aor,
            ExpirationTime = DateTimeOffset.UtcNow.AddHours(1),
            UserAgent = "Bench Phone/1.0",
            CallId = string.Create(CultureInfo.InvariantCulture, $"{index}-{round}@bench"),
            ViaAddress = "192.0.2.1",
            ViaPort = 5060,
            RegistrationServer = "bench",
        };
    }

    private sealed record Options(int Seconds, IReadOnlyList<int> Writers, int Aors, HashSet<string> Backends, bool Help)
    {
        public static Options Parse(string[] args)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            var help = false;
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] is "--help" or "-h")
                {
                    help = true;
                    continue;
                }
                if (!args[i].StartsWith("--", StringComparison.Ordinal))
                    throw new FormatException($"unexpected argument '{args[i]}'");
                var equals = args[i].IndexOf('=', StringComparison.Ordinal);
                if (equals > 0)
                    values[args[i][2..equals]] = args[i][(equals + 1)..];
                else if (i + 1 < args.Length)
                    values[args[i][2..]] = args[++i];
                else
                    throw new FormatException($"{args[i]} needs a value");
            }
            static int Positive(string name, string text) =>
                int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
                    ? value
                    : throw new FormatException($"--{name}: '{text}' is not a positive whole number");
            var seconds = values.Remove("seconds", out var s) ? Positive("seconds", s) : 5;
            var writers = values.Remove("writers", out var w)
                ? w.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => Positive("writers", x)).ToList()
                : [1, 16, 128, 1024];
            var aors = values.Remove("aors", out var a) ? Positive("aors", a) : 10_000;
            var backends = values.Remove("backends", out var b)
                ? b.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => x.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal)
                : new HashSet<string>(StringComparer.Ordinal) { "sqlite", "postgresql" };
            if (backends.Except(["sqlite", "postgresql"]).FirstOrDefault() is { } unknown)
                throw new FormatException($"--backends: unknown backend '{unknown}'");
            if (aors < writers.Max())
                throw new FormatException("--aors must be at least the largest writer count (no two writers write one AOR at once)");
            if (values.Count > 0)
                throw new FormatException($"unknown option --{values.Keys.First()}");
            return new Options(seconds, writers, aors, backends, help);
        }
    }
}
