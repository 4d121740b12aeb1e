using System.Text;
using System.Text.Json;
using PjSharp.DataAccess.Tools;
using Spectre.Console;

namespace PjSharp.Server.Commands;

/// <summary>
/// How <c>pjsharp show</c> prints a table: a Spectre table for a person at a terminal; tab-separated
/// rows, never wrapped, when the output goes to a pipe or a file; JSON on request.
/// </summary>
internal static class TableOutput
{
    public static readonly string[] Formats = ["table", "tsv", "json"];

    /// <summary>The format to use: the one asked for, else a table on a terminal and TSV otherwise.</summary>
    public static string Choose(string? requested, TextWriter output) =>
        requested ?? (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected ? "table" : "tsv");

    public static void Write(ConfigTable table, string format, TextWriter output)
    {
        if (format == "table")
        {
            WriteTable(table, output);
            return;
        }
        // Console.Out flushes on every write; a buffered writer over the same stream prints 10,000 rows in milliseconds.
        var ownsWriter = ReferenceEquals(output, Console.Out);
        var writer = ownsWriter ? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024) : output;
        try
        {
            if (format == "json")
                WriteJson(table, writer);
            else
                WriteTsv(table, writer);
        }
        finally
        {
            writer.Flush();
            if (ownsWriter)
                writer.Dispose();
        }
    }

    /// <summary>A header line of column names, then one line per row; tabs, line breaks and backslashes in cells are escaped.</summary>
    internal static void WriteTsv(ConfigTable table, TextWriter writer)
    {
        WriteTsvLine(table.Columns, writer);
        foreach (var row in table.Rows)
            WriteTsvLine(row, writer);
    }

    private static void WriteTsvLine(IReadOnlyList<string> cells, TextWriter writer)
    {
        for (var i = 0; i < cells.Count; i++)
        {
            if (i > 0)
                writer.Write('\t');
            var cell = cells[i];
            if (cell.AsSpan().IndexOfAny("\t\r\n\\") < 0)
            {
                writer.Write(cell);
                continue;
            }
            foreach (var c in cell)
            {
                writer.Write(c switch
                {
                    '\t' => "\\t",
                    '\r' => "\\r",
                    '\n' => "\\n",
                    '\\' => "\\\\",
                    _ => null,
                } ?? c.ToString());
            }
        }
        writer.Write('\n');
    }

    /// <summary><c>{"title":..., "columns":[...], "rows":[{"Column": "value", ...}, ...]}</c>.</summary>
    internal static void WriteJson(ConfigTable table, TextWriter writer)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("title", table.Title);
            json.WriteStartArray("columns");
            foreach (var column in table.Columns)
                json.WriteStringValue(column);
            json.WriteEndArray();
            json.WriteStartArray("rows");
            foreach (var row in table.Rows)
            {
                json.WriteStartObject();
                for (var i = 0; i < table.Columns.Count && i < row.Count; i++)
                    json.WriteString(table.Columns[i], row[i]);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        writer.Write(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        writer.Write('\n');
    }

    private static void WriteTable(ConfigTable source, TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.No,
        });
        // A table asked for on a pipe is not squeezed to 80 columns.
        if (!ReferenceEquals(writer, Console.Out) || Console.IsOutputRedirected)
            console.Profile.Width = Math.Max(console.Profile.Width, 240);
        var table = new Table { Title = new TableTitle(Markup.Escape(source.Title)), Border = TableBorder.Rounded };
        foreach (var column in source.Columns)
            table.AddColumn(new TableColumn(Markup.Escape(column)));
        foreach (var row in source.Rows)
            table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)new Text(cell)).ToArray());
        if (source.Rows.Count == 0)
            table.Caption = new TableTitle("(none)");
        console.Write(table);
    }
}
