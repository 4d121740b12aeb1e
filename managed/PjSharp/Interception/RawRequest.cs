using System.Globalization;
using System.Text;

namespace PjSharp.Interception;

/// <summary>
/// A lenient reading of bytes pjsip could not parse: just enough of the start line and the
/// headers a response must copy (RFC 3261 §8.2.6.2) to say what is wrong and answer it.
/// </summary>
internal sealed class RawRequest
{
    /// <summary>Request-URI schemes PjSharp accepts; anything else is answered 416.</summary>
    public static readonly string[] UriSchemes = ["sip", "sips", "tel"];

    public bool IsRequest { get; private set; }
    public bool IsAck { get; private set; }
    public string Method { get; private set; } = "";
    public string Uri { get; private set; } = "";
    public string Version { get; private set; } = "";
    public List<string> Via { get; } = [];
    public string? From { get; private set; }
    public string? To { get; private set; }
    public string? CallId { get; private set; }
    public string? CSeq { get; private set; }

    public static RawRequest Parse(ReadOnlySpan<byte> raw)
    {
        var request = new RawRequest();
        var end = raw.IndexOf("\r\n\r\n"u8);
        var head = Encoding.UTF8.GetString(end >= 0 ? raw[..end] : raw);
        var lines = Unfold(head.Split('\n')).ToList();
        if (lines.Count == 0)
            return request;
        var start = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (start.Length >= 1 && start[0].StartsWith("SIP/", StringComparison.OrdinalIgnoreCase))
            return request; // a response
        if (start.Length == 3)
        {
            request.IsRequest = true;
            request.Method = start[0];
            request.Uri = start[1];
            request.Version = start[2];
            request.IsAck = string.Equals(start[0], "ACK", StringComparison.Ordinal);
        }
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            switch (name.ToLowerInvariant())
            {
                case "via" or "v":
                    request.Via.Add(value);
                    break;
                case "from" or "f":
                    request.From ??= value;
                    break;
                case "to" or "t":
                    request.To ??= value;
                    break;
                case "call-id" or "i":
                    request.CallId ??= value;
                    break;
                case "cseq":
                    request.CSeq ??= value;
                    break;
            }
        }
        return request;
    }

    /// <summary>The answer to a request pjsip's parser rejected.</summary>
    public (int Code, string Reason) Diagnose()
    {
        if (!IsRequest)
            return (400, "Bad Request");
        if (!string.Equals(Version, "SIP/2.0", StringComparison.OrdinalIgnoreCase))
            return (505, "Version Not Supported");
        var colon = Uri.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !UriSchemes.Contains(Uri[..colon], StringComparer.OrdinalIgnoreCase))
            return (416, "Unsupported URI Scheme");
        return (400, "Bad Request");
    }

    public byte[] BuildResponse(int code, string reason)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"SIP/2.0 {code} {reason}\r\n");
        foreach (var via in Via)
            text.Append("Via: ").Append(via).Append("\r\n");
        if (From != null)
            text.Append("From: ").Append(From).Append("\r\n");
        if (To != null)
        {
            text.Append("To: ").Append(To);
            if (!To.Contains(";tag=", StringComparison.OrdinalIgnoreCase))
                text.Append(";tag=").Append(Guid.NewGuid().ToString("N")[..10]);
            text.Append("\r\n");
        }
        if (CallId != null)
            text.Append("Call-ID: ").Append(CallId).Append("\r\n");
        if (CSeq != null)
            text.Append("CSeq: ").Append(CSeq).Append("\r\n");
        text.Append("Content-Length: 0\r\n\r\n");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static IEnumerable<string> Unfold(string[] lines)
    {
        string? current = null;
        foreach (var rawLine in lines)
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t') && current != null)
            {
                current += " " + line.Trim();
                continue;
            }
            if (current != null)
                yield return current;
            current = line;
        }
        if (current != null)
            yield return current;
    }
}
