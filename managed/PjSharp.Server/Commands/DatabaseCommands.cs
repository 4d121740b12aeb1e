using System.CommandLine;
using PjSharp.DataAccess;
using PjSharp.DataAccess.PostgreSql;
using PjSharp.DataAccess.Sqlite;

namespace PjSharp.Server.Commands;

/// <summary>
/// <c>pjsharp db import|set|delete</c>: manage the objects kept in a database (SQLite, or the PostgreSQL database nodes
/// share). A write to PostgreSQL reaches every running node's cache within a second, by its change notification.
/// </summary>
internal static class DatabaseCommands
{
    private static readonly string[] DefaultImportTypes = ["endpoint", "auth", "aor", "identify", "acl"];

    public static Command Create()
    {
        var command = new Command("db", "Manage the objects kept in a database: SQLite (--db) or the PostgreSQL database nodes share (--postgres).");
        command.Subcommands.Add(CreateImport());
        command.Subcommands.Add(CreateSet());
        command.Subcommands.Add(CreateDelete());
        return command;
    }

    private sealed record Target(Option<string?> Sqlite, Option<string?> Postgres, Option<string> Schema);

    private static Target AddTarget(Command command)
    {
        var target = new Target(
            new Option<string?>("--db") { Description = "A PjSharp SQLite database file." },
            new Option<string?>("--postgres") { Description = "An Npgsql connection string of the shared database, e.g. Host=127.0.0.13;Username=pjsharp;Password=...;Database=pjsharp." },
            new Option<string>("--schema") { Description = "The PostgreSQL schema (PjSharp:PostgreSql:Schema).", DefaultValueFactory = _ => "public" });
        command.Options.Add(target.Sqlite);
        command.Options.Add(target.Postgres);
        command.Options.Add(target.Schema);
        return target;
    }

    private static async Task<IObjectBackend?> OpenAsync(ParseResult parse, Target target, CancellationToken cancellation)
    {
        var sqlite = parse.GetValue(target.Sqlite);
        var postgres = parse.GetValue(target.Postgres);
        if ((sqlite is null) == (postgres is null))
        {
            await parse.InvocationConfiguration.Error.WriteLineAsync("pjsharp db: give one database: --db <file> or --postgres <connection string>");
            return null;
        }
        return sqlite is not null
            ? await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = sqlite }, cancellation)
            : await PostgreSqlBackend.OpenAsync(new PostgreSqlBackendOptions
            {
                ConnectionString = postgres!,
                Schema = parse.GetValue(target.Schema)!,
                ListenForChanges = false,
            }, cancellation);
    }

    private static Command CreateImport()
    {
        var config = new Option<string>("--config", "-c") { Description = "The pjsip.conf file to copy objects from.", Required = true };
        var types = new Option<string[]>("--type")
        {
            Description = "The types to copy (repeatable); default: " + string.Join(", ", DefaultImportTypes) + ".",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("import", "Copy the objects of a pjsip.conf into the database (created or replaced), in one transaction.") { config, types };
        var target = AddTarget(command);
        command.SetAction(async (parse, cancellation) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var chosen = new List<ObjectType>();
            foreach (var name in parse.GetValue(types) is { Length: > 0 } given ? given : DefaultImportTypes)
            {
                if (ObjectTypes.Find(name) is not { IsDynamic: false } type)
                {
                    await error.WriteLineAsync($"pjsharp db import: --type {name}: not a configuration type ({string.Join(", ", ObjectTypes.All.Where(t => !t.IsDynamic).Select(t => t.Name))})");
                    return 2;
                }
                chosen.Add(type);
            }
            var file = parse.GetValue(config)!;
            if (!File.Exists(file))
            {
                await error.WriteLineAsync($"pjsharp db import: --config: '{file}' does not exist");
                return 2;
            }
            var loaded = PjsipConfBackend.Check(file);
            foreach (var diagnostic in loaded.Diagnostics)
                await error.WriteLineAsync(diagnostic.ToString());
            if (loaded.HasErrors)
                return 1;
            var writes = loaded.Objects.Where(o => chosen.Contains(o.ObjectType)).Select(ObjectWrite.Upsert).ToList();
            return await WithBackendAsync(parse, target, async backend =>
            {
                await backend.WriteBatchAsync(writes, cancellation);
                var counts = string.Join(", ", writes.GroupBy(w => w.Type.Name).Select(g => $"{g.Key} {g.Count()}"));
                await parse.InvocationConfiguration.Output.WriteLineAsync($"imported {writes.Count} objects ({(counts.Length > 0 ? counts : "none")}) into {backend.Name}");
                return 0;
            }, cancellation);
        });
        return command;
    }

    private static Command CreateSet()
    {
        var type = new Argument<string>("type") { Description = "endpoint, auth, aor, identify, acl, ..." };
        var id = new Argument<string>("id") { Description = "The object's id (its section name in pjsip.conf)." };
        var fields = new Argument<string[]>("fields") { Description = "name=value options as in pjsip.conf, e.g. password=secret.", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("set", "Create or replace one object from name=value options (checked as pjsip.conf is).") { type, id, fields };
        var target = AddTarget(command);
        command.SetAction(async (parse, cancellation) =>
        {
            var error = parse.InvocationConfiguration.Error;
            if (ObjectTypes.Find(parse.GetValue(type)!) is not { } objectType)
            {
                await error.WriteLineAsync($"pjsharp db set: unknown type '{parse.GetValue(type)}' ({string.Join(", ", ObjectTypes.All.Select(t => t.Name))})");
                return 2;
            }
            var pairs = new List<KeyValuePair<string, string>>();
            foreach (var field in parse.GetValue(fields) ?? [])
            {
                var equals = field.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    await error.WriteLineAsync($"pjsharp db set: '{field}' is not name=value");
                    return 2;
                }
                pairs.Add(new(field[..equals].Trim(), field[(equals + 1)..].Trim()));
            }
            SipObject value;
            try
            {
                value = objectType.FromFields(parse.GetValue(id)!, pairs, "command line");
            }
            catch (ConfigurationException invalid)
            {
                foreach (var diagnostic in invalid.Diagnostics)
                    await error.WriteLineAsync(diagnostic.ToString());
                return 1;
            }
            return await WithBackendAsync(parse, target, async backend =>
            {
                var created = await backend.UpsertAsync(value, cancellation);
                await parse.InvocationConfiguration.Output.WriteLineAsync($"{(created ? "created" : "updated")} {objectType.Name} '{value.Id}' in {backend.Name}");
                return 0;
            }, cancellation);
        });
        return command;
    }

    private static Command CreateDelete()
    {
        var type = new Argument<string>("type") { Description = "endpoint, auth, aor, identify, acl, contact, ..." };
        var id = new Argument<string>("id") { Description = "The object's id." };
        var command = new Command("delete", "Delete one object.") { type, id };
        var target = AddTarget(command);
        command.SetAction(async (parse, cancellation) =>
        {
            if (ObjectTypes.Find(parse.GetValue(type)!) is not { } objectType)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"pjsharp db delete: unknown type '{parse.GetValue(type)}'");
                return 2;
            }
            return await WithBackendAsync(parse, target, async backend =>
            {
                var deleted = await backend.DeleteAsync(objectType, parse.GetValue(id)!, cancellation);
                await parse.InvocationConfiguration.Output.WriteLineAsync(deleted
                    ? $"deleted {objectType.Name} '{parse.GetValue(id)}' from {backend.Name}"
                    : $"no {objectType.Name} '{parse.GetValue(id)}' in {backend.Name}");
                return deleted ? 0 : 1;
            }, cancellation);
        });
        return command;
    }

    private static async Task<int> WithBackendAsync(ParseResult parse, Target target, Func<IObjectBackend, Task<int>> action, CancellationToken cancellation)
    {
        IObjectBackend? backend;
        try
        {
            backend = await OpenAsync(parse, target, cancellation);
        }
        catch (Exception failed) when (failed is System.Data.Common.DbException or BackendUnavailableException or ArgumentException or InvalidOperationException)
        {
            await parse.InvocationConfiguration.Error.WriteLineAsync($"pjsharp db: cannot open the database: {failed.Message}");
            return 1;
        }
        if (backend is null)
            return 2;
        await using (backend)
        {
            try
            {
                return await action(backend);
            }
            catch (BackendUnavailableException unavailable)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"pjsharp db: {unavailable.Message}");
                return 1;
            }
        }
    }
}
