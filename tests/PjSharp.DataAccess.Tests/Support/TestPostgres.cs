using Npgsql;
using PjSharp.DataAccess.PostgreSql;

namespace PjSharp.DataAccess.Tests.Support;

/// <summary>
/// The PostgreSQL server of the tests (env PJSHARP_TEST_POSTGRES). Each test gets its own schema, dropped afterwards.
/// An unreachable server fails the test with instructions; it never skips.
/// </summary>
internal static class TestPostgres
{
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=5432;Username=pjsharp;Password=pjsharp;Database=pjsharp_test";

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("PJSHARP_TEST_POSTGRES") is { Length: > 0 } configured ? configured : DefaultConnectionString;

    public static string NewSchemaName() => "t_" + Guid.NewGuid().ToString("N")[..16];

    /// <summary>Fails the test with a clear message when the server does not answer.</summary>
    public static async Task EnsureReachableAsync()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Timeout = 5 };
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync();
        }
        catch (Exception error) when (error is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            Assert.Fail(
                $"PostgreSQL is not reachable at {builder.Host}:{builder.Port} (database {builder.Database}, user {builder.Username}): {error.Message}. " +
                "Run build/prepare-postgres.sh as root (it starts the Debian cluster and creates the pjsharp role and database), " +
                "or set PJSHARP_TEST_POSTGRES to a reachable server's connection string.");
        }
    }

    public static async Task<PostgreSqlBackend> OpenAsync(string schema, string? nodeId = null, bool listen = true)
    {
        await EnsureReachableAsync();
        var options = new PostgreSqlBackendOptions { ConnectionString = ConnectionString, Schema = schema, ListenForChanges = listen };
        if (nodeId is not null)
            options.NodeId = nodeId;
        return await PostgreSqlBackend.OpenAsync(options);
    }

    public static async Task DropSchemaAsync(string schema)
    {
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString);
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE";
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
        }
    }
}
