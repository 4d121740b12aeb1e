using Microsoft.Data.Sqlite;
using Npgsql;

namespace PjSharp.DataAccess.Tests.Support;

/// <summary>
/// Database triggers that make the insert of any object whose id starts with <c>poison</c> fail, so a test can fail a
/// write in the middle of a batch.
/// </summary>
internal static class Poison
{
    public const string IdPrefix = "poison";

    public static Contact Contact(int n = 0) => Samples.ContactOf(IdPrefix, n);

    public static async Task AddToSqliteAsync(string path)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE TRIGGER pjsharp_test_poison BEFORE INSERT ON pjsharp_objects WHEN NEW.id LIKE '{IdPrefix}%' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END";
        await command.ExecuteNonQueryAsync();
    }

    public static async Task AddToPostgresAsync(string schema)
    {
        await using var connection = new NpgsqlConnection(TestPostgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            CREATE FUNCTION "{schema}".poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.id LIKE '{IdPrefix}%' THEN RAISE EXCEPTION 'poisoned row'; END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER poison BEFORE INSERT ON "{schema}".pjsharp_objects FOR EACH ROW EXECUTE FUNCTION "{schema}".poison();
            """;
        await command.ExecuteNonQueryAsync();
    }
}
