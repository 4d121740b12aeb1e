using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using PjSharp.DataAccess.Tools;
using PjSharp.Hosting;

namespace PjSharp.Server.Commands;

/// <summary>The admin endpoint could not be reached or answered with an error; the message is for the user as is.</summary>
internal sealed class AdminClientException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The client side of the admin endpoint: one request line out, JSON lines back.</summary>
internal sealed class AdminClient : IAsyncDisposable
{
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private AdminClient(string path, NetworkStream stream)
    {
        SocketPath = path;
        _stream = stream;
        _reader = new StreamReader(stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024);
    }

    public string SocketPath { get; }

    /// <summary>The socket <c>--server</c> means: the one given, else the one a server with <paramref name="database"/> opens by default.</summary>
    public static string ResolveSocket(string? socket, string? database) =>
        !string.IsNullOrEmpty(socket) ? socket : PjSharpAdminOptions.DefaultSocketFor(database ?? "pjsharp.db");

    public static async Task<AdminClient> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
            throw new AdminClientException($"no server admin socket at {path}: is pjsharp serve running? (its socket is beside its database, or where --admin-socket put it)");
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException error)
        {
            socket.Dispose();
            throw new AdminClientException(error.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => $"no server is listening on {path} (a socket file left by a server that stopped?)",
                SocketError.AccessDenied => $"cannot open {path}: permission denied (the admin socket is only for the user the server runs as)",
                _ => $"cannot connect to {path}: {error.Message}",
            }, error);
        }
        catch (ArgumentException error)
        {
            socket.Dispose();
            throw new AdminClientException($"cannot use {path} as a socket path: {error.Message}", error);
        }
        return new AdminClient(path, new NetworkStream(socket, ownsSocket: true));
    }

    public async Task SendAsync(Action<Utf8JsonWriter> request, CancellationToken cancellationToken)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            request(writer);
            writer.WriteEndObject();
        }
        await _stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        await _stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The next line as JSON; null at the end of the stream. An <c>error</c> line throws.</summary>
    public async Task<JsonDocument?> ReadAsync(CancellationToken cancellationToken)
    {
        string? line;
        try
        {
            line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException error)
        {
            throw new AdminClientException($"the server closed the connection: {error.Message}", error);
        }
        if (line == null)
            return null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException error)
        {
            throw new AdminClientException($"the server sent something that is not JSON: {error.Message}", error);
        }
        if (document.RootElement.TryGetProperty("error", out var message))
        {
            document.Dispose();
            throw new AdminClientException("the server says: " + message.GetString());
        }
        return document;
    }

    /// <summary>Asks for one table and reads it whole.</summary>
    public async Task<ConfigTable> ShowAsync(string kind, CancellationToken cancellationToken)
    {
        await SendAsync(w =>
        {
            w.WriteString("command", "show");
            w.WriteString("kind", kind);
        }, cancellationToken).ConfigureAwait(false);
        string? title = null;
        List<string> columns = [];
        var rows = new List<IReadOnlyList<string>>();
        while (await ReadAsync(cancellationToken).ConfigureAwait(false) is { } document)
        {
            using (document)
            {
                var root = document.RootElement;
                if (root.TryGetProperty("row", out var row))
                {
                    var cells = new string[row.GetArrayLength()];
                    var i = 0;
                    foreach (var cell in row.EnumerateArray())
                        cells[i++] = cell.GetString() ?? "";
                    rows.Add(cells);
                }
                else if (root.TryGetProperty("table", out var table))
                {
                    title = table.GetProperty("title").GetString();
                    columns = [.. table.GetProperty("columns").EnumerateArray().Select(c => c.GetString() ?? "")];
                    if (table.TryGetProperty("rows", out var count))
                        rows.Capacity = count.GetInt32();
                }
                else if (root.TryGetProperty("end", out _))
                {
                    return new ConfigTable(title ?? kind, columns, rows);
                }
            }
        }
        throw new AdminClientException("the server closed the connection before the table ended");
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
