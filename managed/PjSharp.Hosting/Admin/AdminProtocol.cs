using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text.Json;
using PjSharp.Interception.Trace;

namespace PjSharp.Hosting.Admin;

/// <summary>A request to the admin endpoint.</summary>
internal abstract record AdminRequest;

/// <summary><c>{"command":"show","kind":"contacts"}</c>: a <c>table</c> line, one <c>row</c> line per row, then <c>end</c>.</summary>
internal sealed record ShowRequest(string Kind) : AdminRequest;

/// <summary>
/// <c>{"command":"trace","addresses":["192.0.2.0/24"],"method":"OPTIONS","endpoints":["alice"]}</c> (filters optional):
/// <c>tracing</c>, then a <c>message</c> line per SIP message, <c>dropped</c> when the client fell behind, <c>end</c> when the server stops.
/// </summary>
internal sealed record TraceRequest(SipTraceFilter Filter) : AdminRequest;

/// <summary>A request the endpoint cannot serve; its message goes back to the client as <c>{"error":"..."}</c>.</summary>
public sealed class AdminProtocolException : Exception
{
    public AdminProtocolException()
    {
    }

    public AdminProtocolException(string message) : base(message)
    {
    }

    public AdminProtocolException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// The admin endpoint's wire format: one JSON object per line, UTF-8, each way. The client sends one
/// request line; the server answers with lines whose single property says what they are
/// (<c>error</c>, <c>table</c>, <c>row</c>, <c>end</c>, <c>tracing</c>, <c>message</c>, <c>dropped</c>).
/// </summary>
internal static class AdminProtocol
{
    public static AdminRequest ParseRequest(string line)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException invalid)
        {
            throw new AdminProtocolException($"the request is not JSON: {invalid.Message}", invalid);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new AdminProtocolException("the request must be a JSON object, e.g. {\"command\":\"show\",\"kind\":\"contacts\"}");
            var command = String(root, "command") ?? throw new AdminProtocolException("the request has no \"command\" (show or trace)");
            switch (command)
            {
                case "show":
                    var kind = String(root, "kind") ?? throw new AdminProtocolException("show needs a \"kind\": " + string.Join(", ", ServerTables.Kinds));
                    if (!ServerTables.Kinds.Contains(kind))
                        throw new AdminProtocolException($"unknown kind '{kind}': expected {string.Join(", ", ServerTables.Kinds)}");
                    return new ShowRequest(kind);
                case "trace":
                    var addresses = new List<IPNetwork>();
                    foreach (var text in Strings(root, "addresses"))
                    {
                        if (!IPNetwork.TryParse(text, out var network))
                        {
                            if (!IPAddress.TryParse(text, out var address))
                                throw new AdminProtocolException($"'{text}' is not an address or network such as 192.0.2.0/24");
                            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
                        }
                        addresses.Add(network);
                    }
                    return new TraceRequest(new SipTraceFilter
                    {
                        Addresses = addresses,
                        Method = String(root, "method"),
                        Endpoints = Strings(root, "endpoints"),
                    });
                default:
                    throw new AdminProtocolException($"unknown command '{command}': expected show or trace");
            }
        }
    }

    private static string? String(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } text)
            throw new AdminProtocolException($"\"{name}\" must be a non-empty string");
        return text;
    }

    private static List<string> Strings(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return [];
        if (value.ValueKind != JsonValueKind.Array)
            throw new AdminProtocolException($"\"{name}\" must be an array of strings");
        var result = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 } text)
                throw new AdminProtocolException($"\"{name}\" must be an array of non-empty strings");
            result.Add(text);
        }
        return result;
    }

    /// <summary><c>{"message":{"time":...,"direction":"in"|"out","transport":...,"local":...,"remote":...,"method":...,"text":...}}</c>.</summary>
    public static void WriteMessage(Utf8JsonWriter writer, SipTraceMessage message)
    {
        writer.WriteStartObject("message");
        writer.WriteString("time", message.Time.ToString("o", CultureInfo.InvariantCulture));
        writer.WriteString("direction", message.Received ? "in" : "out");
        writer.WriteString("transport", message.Transport);
        writer.WriteString("local", message.Local);
        writer.WriteString("remote", message.Remote);
        writer.WriteString("method", message.Method);
        writer.WriteString("text", message.Text);
        writer.WriteEndObject();
    }
}

/// <summary>Writes JSON lines into a buffer and the buffer to a stream, so thousands of rows cost a few writes.</summary>
internal sealed class JsonLineWriter(Stream stream)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(16 * 1024);
    private Utf8JsonWriter? _writer;

    public int Buffered => _buffer.WrittenCount;

    /// <summary>One line: an object whose members <paramref name="members"/> writes.</summary>
    public void Write(Action<Utf8JsonWriter> members)
    {
        var writer = _writer ??= new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.Reset(_buffer);
        writer.WriteStartObject();
        members(writer);
        writer.WriteEndObject();
        writer.Flush();
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_buffer.WrittenCount == 0)
            return;
        await stream.WriteAsync(_buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
        _buffer.ResetWrittenCount();
    }
}
