using System.CommandLine;
using PjSharp.DataAccess.Sqlite;
using PjSharp.DataAccess.Tools;

namespace PjSharp.Server.Commands;

/// <summary><c>pjsharp check-config</c> and <c>pjsharp show</c>: thin wrappers over <see cref="ConfigReport"/>.</summary>
internal static class ConfigCommands
{
    /// <summary><c>pjsharp check-config &lt;file&gt;</c>: every error at once as <c>file:line: type 'id': message</c>; non-zero exit on any.</summary>
    public static Command CreateCheckConfigCommand()
    {
        var file = new Argument<string>("file") { Description = "The pjsip.conf file to check (its #include files are checked too)." };
        var command = new Command("check-config", "Check a pjsip.conf file and report every error with its file, line and key.") { file };
        command.SetAction(parse =>
        {
            var report = ConfigReport.Check(parse.GetValue(file)!);
            var output = report.ExitCode == ConfigReport.ExitOk ? parse.InvocationConfiguration.Output : parse.InvocationConfiguration.Error;
            foreach (var line in report.Lines)
                output.WriteLine(line);
            return report.ExitCode;
        });
        return command;
    }

    /// <summary>
    /// <c>pjsharp show &lt;kind&gt;</c>: from files (<c>--config</c>, <c>--db</c>) or from a running server
    /// (<c>--server [socket]</c>, or when no file is given and the default socket exists); printed as
    /// <see cref="TableOutput"/> chooses.
    /// </summary>
    public static Command CreateShowCommand()
    {
        var kind = new Argument<string>("kind")
        {
            Description = "What to list: " + string.Join(", ", ConfigReport.ShowKinds) + "; from a running server also calls and blocked.",
        };
        kind.AcceptOnlyFromAmong([.. Hosting.Admin.ServerTables.Kinds]);
        var config = new Option<string?>("--config", "-c") { Description = "The pjsip.conf file." };
        var database = new Option<string?>("--db") { Description = "A PjSharp SQLite database whose objects and contacts are shown too (with --server: the server's database, to find its socket)." };
        var server = new Option<string?>("--server", "-s")
        {
            Description = "Ask the running server, through its admin socket (default: beside its database, pjsharp.sock).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var format = new Option<string?>("--format", "-f") { Description = "table, tsv or json. Default: a table on a terminal, tab-separated rows otherwise." };
        format.AcceptOnlyFromAmong(TableOutput.Formats);
        var command = new Command("show", "List the objects of one type: from pjsip.conf and a database, or from a running server.") { kind, config, database, server, format };
        command.SetAction(async (parse, cancellation) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var output = parse.InvocationConfiguration.Output;
            var chosen = TableOutput.Choose(parse.GetValue(format), output);
            var kindName = parse.GetValue(kind)!;
            var configPath = parse.GetValue(config);
            var dbPath = parse.GetValue(database);
            string? socket = null;
            if (parse.GetResult(server) is not null)
                socket = AdminClient.ResolveSocket(parse.GetValue(server), dbPath);
            else if (configPath is null && dbPath is null && File.Exists(AdminClient.ResolveSocket(null, null)))
                socket = AdminClient.ResolveSocket(null, null);
            if (socket is not null)
            {
                try
                {
                    await using var client = await AdminClient.ConnectAsync(socket, cancellation);
                    var table = await client.ShowAsync(kindName, cancellation);
                    TableOutput.Write(table, chosen, output);
                    return ConfigReport.ExitOk;
                }
                catch (AdminClientException failed)
                {
                    await error.WriteLineAsync($"pjsharp show: {failed.Message}");
                    return ConfigReport.ExitConfigErrors;
                }
            }
            if (configPath is null)
            {
                await error.WriteLineAsync("pjsharp show: give --config <pjsip.conf> (and --db <database>), or --server [socket] for a running server.");
                return ConfigReport.ExitUsage;
            }
            if (!ConfigReport.ShowKinds.Contains(kindName))
            {
                await error.WriteLineAsync($"pjsharp show: {kindName} comes from a running server only: use --server [socket].");
                return ConfigReport.ExitUsage;
            }
            SqliteBackend? sqlite = null;
            try
            {
                if (dbPath is not null)
                {
                    try
                    {
                        sqlite = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = dbPath, MustExist = true }, cancellation);
                    }
                    catch (FileNotFoundException missing)
                    {
                        await error.WriteLineAsync($"{dbPath}: {missing.Message}");
                        return ConfigReport.ExitUsage;
                    }
                }
                var report = await ConfigReport.ShowAsync(kindName, configPath, sqlite, cancellation);
                foreach (var line in report.Errors)
                    await error.WriteLineAsync(line);
                foreach (var table in report.Tables)
                    TableOutput.Write(table, chosen, output);
                return report.ExitCode;
            }
            finally
            {
                if (sqlite is not null)
                    await sqlite.DisposeAsync();
            }
        });
        return command;
    }
}
