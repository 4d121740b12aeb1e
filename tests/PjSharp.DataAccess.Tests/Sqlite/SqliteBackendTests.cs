using System.Diagnostics;
using Microsoft.Data.Sqlite;
using PjSharp.DataAccess.Sqlite;
using PjSharp.DataAccess.Tests.Support;

namespace PjSharp.DataAccess.Tests.Sqlite;

public sealed class SqliteBackendTests
{
    [Test]
    public async Task The_file_is_in_wal_mode_with_full_sync()
    {
        using var dir = new TempDirectory();
        await using var backend = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = dir.File("a.db") });
        var (journal, synchronous) = await backend.GetDurabilitySettingsAsync();
        Assert.That(journal, Is.EqualTo("wal"));
        Assert.That(synchronous, Is.EqualTo(2), "2 is FULL");
        Assert.That(backend.SchemaVersion, Is.EqualTo(SqlObjectBackend.LatestSchemaVersion));
    }

    [Test]
    public async Task Data_survives_closing_and_reopening()
    {
        using var dir = new TempDirectory();
        var options = new SqliteBackendOptions { Path = dir.File("a.db") };
        await using (var backend = await SqliteBackend.OpenAsync(options))
        {
            await backend.CreateAsync(Samples.Alice);
            await backend.CreateAsync(Samples.ContactOf("alice", 1));
        }
        await using var reopened = await SqliteBackend.OpenAsync(options);
        Assert.That(await reopened.RetrieveAsync(Endpoint.Type, "alice"), Is.EqualTo(Samples.Alice));
        Assert.That(await reopened.RetrieveAsync(Contact.Type, Samples.ContactOf("alice", 1).Id), Is.EqualTo(Samples.ContactOf("alice", 1)));
    }

    [Test]
    public async Task An_older_schema_is_migrated_at_start()
    {
        using var dir = new TempDirectory();
        var path = dir.File("old.db");
        await using (var old = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = path, TargetSchemaVersion = 1 }))
        {
            Assert.That(old.SchemaVersion, Is.EqualTo(1));
            await old.CreateAsync(Samples.Bob);
        }
        Assert.That(await IndexExistsAsync(path), Is.False);
        await using var current = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = path });
        Assert.That(current.SchemaVersion, Is.EqualTo(2));
        Assert.That(await IndexExistsAsync(path), Is.True);
        Assert.That(await current.RetrieveAsync(Endpoint.Type, "bob"), Is.EqualTo(Samples.Bob));
    }

    [Test]
    public async Task Retrieve_by_field_uses_the_index()
    {
        using var dir = new TempDirectory();
        var path = dir.File("plan.db");
        await using var backend = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = path });
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN SELECT m.id FROM pjsharp_fields m WHERE m.type = 'contact' AND m.field = 'aor' AND m.value = 'alice'";
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                plan.Add(reader.GetString(3));
        }
        Assert.That(string.Join("\n", plan), Does.Contain("pjsharp_fields_by_value"));
    }

    [Test]
    public void A_newer_schema_is_refused()
    {
        using var dir = new TempDirectory();
        var path = dir.File("future.db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE pjsharp_schema (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL); INSERT INTO pjsharp_schema VALUES (99, 0);";
            command.ExecuteNonQuery();
        }
        var error = Assert.ThrowsAsync<InvalidOperationException>(async () => await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = path }));
        Assert.That(error!.Message, Does.Contain("schema version 99 is newer"));
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_kill_9_loses_no_acknowledged_write(CancellationToken cancellation)
    {
        using var dir = new TempDirectory();
        var path = dir.File("durable.db");
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(SqliteBackendTests).Assembly.Location);
        start.ArgumentList.Add("write-contacts");
        start.ArgumentList.Add(path);
        using var child = Process.Start(start)!;
        var acknowledged = new List<string>();
        try
        {
            while (acknowledged.Count < 25)
            {
                var line = await child.StandardOutput.ReadLineAsync(cancellation)
                    ?? throw new AssertionException("the writer exited early: " + await child.StandardError.ReadToEndAsync(cancellation));
                if (line.StartsWith("ack ", StringComparison.Ordinal))
                    acknowledged.Add(line[4..]);
            }
        }
        finally
        {
            // Process.Kill sends SIGKILL on Unix: no finaliser, no flush, no clean close of the database.
            child.Kill();
            await child.WaitForExitAsync(cancellation);
        }
        Assert.That(child.ExitCode, Is.Not.Zero);

        await using var backend = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = path }, cancellation);
        var stored = (await backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("alice"), cancellation)).Select(c => c.Id).ToHashSet();
        Assert.That(acknowledged, Is.SubsetOf(stored), "every write reported before the kill is there after it");
    }

    [Test]
    public async Task A_batch_is_one_transaction_a_failure_inside_writes_nothing()
    {
        using var dir = new TempDirectory();
        var path = dir.File("batch.db");
        await using var backend = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = path });
        var kept = Samples.ContactOf("alice", 1);
        await backend.CreateAsync(kept);
        await Poison.AddToSqliteAsync(path);

        Assert.ThrowsAsync<SqliteException>(async () => await backend.WriteBatchAsync(
            [ObjectWrite.Upsert(Samples.ContactOf("alice", 2)), ObjectWrite.Delete(kept), ObjectWrite.Upsert(Poison.Contact()), ObjectWrite.Upsert(Samples.ContactOf("alice", 3))]));

        var stored = await backend.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix("alice"));
        Assert.That(stored, Is.EqualTo(new[] { kept }), "the upsert before the failure and the delete were rolled back");
        Assert.That(await backend.WriteBatchAsync([ObjectWrite.Upsert(Samples.ContactOf("alice", 4))]), Is.EqualTo(new ChangeKind?[] { ChangeKind.Created }),
            "the write connection is usable after the failed batch");
    }

    private static async Task<bool> IndexExistsAsync(string path)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'pjsharp_fields_by_value'";
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture) == 1;
    }
}
