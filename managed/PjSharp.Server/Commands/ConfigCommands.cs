using System.CommandLine;
using PjSharp.DataAccess.Sqlite;
using PjSharp.DataAccess.Tools;
using Spectre.Console;

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

    /// <summary><c>pjsharp show endpoints|aors|auths|transports|... --config &lt;file&gt; [--db &lt;file&gt;]</c>: one table.</summary>
    public static Command CreateShowCommand()
    {
        var kind = new Argument<string>("kind")
        {
            Description = "What to list: " + string.Join(", ", ConfigReport.ShowKinds) + ".",
        };
        kind.AcceptOnlyFromAmong([.. ConfigReport.ShowKinds]);
        var config = new Option<string>("--config", "-c") { Description = "The pjsip.conf file.", Required = true };
        var database = new Option<string?>("--db") { Description = "A PjSharp SQLite database whose objects and contacts are shown too." };
        var command = new Command("show", "List the objects of one type as a table.") { kind, config, database };
        command.SetAction(async (parse, cancellation) =>
        {
            var error = parse.InvocationConfiguration.Error;
            SqliteBackend? sqlite = null;
            try
            {
                var dbPath = parse.GetValue(database);
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
                var report = await ConfigReport.ShowAsync(parse.GetValue(kind)!, parse.GetValue(config)!, sqlite, cancellation);
                foreach (var line in report.Errors)
                    await error.WriteLineAsync(line);
                var console = AnsiConsole.Create(new AnsiConsoleSettings
                {
                    Out = new AnsiConsoleOutput(parse.InvocationConfiguration.Output),
                    Interactive = InteractionSupport.No,
                });
                // Piped or captured output is read by tools and tests: rows are not wrapped to 80 columns there.
                var output = parse.InvocationConfiguration.Output;
                if (!ReferenceEquals(output, Console.Out) || Console.IsOutputRedirected)
                    console.Profile.Width = Math.Max(console.Profile.Width, 240);
                foreach (var table in report.Tables)
                    console.Write(Render(table));
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

    private static Table Render(ConfigTable source)
    {
        var table = new Table { Title = new TableTitle(source.Title), Border = TableBorder.Rounded };
        foreach (var column in source.Columns)
            table.AddColumn(new TableColumn(Markup.Escape(column)));
        foreach (var row in source.Rows)
            table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)new Text(cell)).ToArray());
        if (source.Rows.Count == 0)
            table.Caption = new TableTitle("(none)");
        return table;
    }
}
