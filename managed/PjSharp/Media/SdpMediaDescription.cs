using System.Globalization;
using System.Text;

namespace PjSharp.Media;

/// <summary>Media direction of an SDP stream (RFC 3264 §5.1).</summary>
public enum SdpDirection
{
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

/// <summary>One <c>a=</c> line: a name and an optional value.</summary>
public readonly record struct SdpAttributeLine(string Name, string? Value = null);

/// <summary>
/// One media description (an <c>m=</c> line with its <c>c=</c> and <c>a=</c> lines), as SDP handlers
/// read and write it. A copy: changing it changes nothing in pjmedia until it is handed back.
/// </summary>
public sealed class SdpMediaDescription
{
    public string Media { get; set; } = "audio";

    /// <summary>The stream's position among the session description's <c>m=</c> lines.</summary>
    public int Index { get; internal set; }

    /// <summary>The port; 0 declines or disables the stream.</summary>
    public int Port { get; set; }

    public string Transport { get; set; } = "RTP/AVP";

    /// <summary>Formats in preference order (RTP payload types for RTP streams).</summary>
    public List<string> Formats { get; } = [];

    /// <summary>The connection address of this stream (its own <c>c=</c> line, else the session's).</summary>
    public string? ConnectionAddress { get; set; }

    public List<SdpAttributeLine> Attributes { get; } = [];

    /// <summary>The direction attribute, sendrecv when none is present.</summary>
    public SdpDirection Direction
    {
        get
        {
            foreach (var attribute in Attributes)
            {
                switch (attribute.Name)
                {
                    case "sendonly": return SdpDirection.SendOnly;
                    case "recvonly": return SdpDirection.RecvOnly;
                    case "inactive": return SdpDirection.Inactive;
                    case "sendrecv": return SdpDirection.SendRecv;
                }
            }
            return SdpDirection.SendRecv;
        }
        set
        {
            Attributes.RemoveAll(a => a.Name is "sendonly" or "recvonly" or "inactive" or "sendrecv");
            Attributes.Add(new SdpAttributeLine(DirectionName(value)));
        }
    }

    public string? GetAttribute(string name, string? valuePrefix = null)
    {
        foreach (var attribute in Attributes)
        {
            if (attribute.Name == name && (valuePrefix == null || (attribute.Value ?? "").StartsWith(valuePrefix, StringComparison.Ordinal)))
                return attribute.Value ?? "";
        }
        return null;
    }

    /// <summary>The encoding name of a payload type from its rtpmap, or the static RTP/AVP name (RFC 3551).</summary>
    public string? EncodingOf(string format)
    {
        var rtpmap = GetAttribute("rtpmap", format + " ");
        if (rtpmap != null)
        {
            var name = rtpmap[(format.Length + 1)..];
            var slash = name.IndexOf('/', StringComparison.Ordinal);
            return slash < 0 ? name : name[..slash];
        }
        return format switch { "0" => "PCMU", "8" => "PCMA", "9" => "G722", "3" => "GSM", "18" => "G729", _ => null };
    }

    public static string DirectionName(SdpDirection direction) => direction switch
    {
        SdpDirection.SendOnly => "sendonly",
        SdpDirection.RecvOnly => "recvonly",
        SdpDirection.Inactive => "inactive",
        _ => "sendrecv",
    };

    /// <summary>Appends the m= line and what follows; a c= line only when it differs from the session's.</summary>
    internal void AppendTo(StringBuilder text, string? sessionAddress = null)
    {
        text.Append(CultureInfo.InvariantCulture, $"m={Media} {Port} {Transport}");
        foreach (var format in Formats)
            text.Append(' ').Append(format);
        text.Append("\r\n");
        if (ConnectionAddress != null && ConnectionAddress != sessionAddress)
            text.Append(CultureInfo.InvariantCulture, $"c=IN {(ConnectionAddress.Contains(':', StringComparison.Ordinal) ? "IP6" : "IP4")} {ConnectionAddress}\r\n");
        foreach (var attribute in Attributes)
        {
            text.Append("a=").Append(attribute.Name);
            if (attribute.Value != null)
                text.Append(':').Append(attribute.Value);
            text.Append("\r\n");
        }
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        AppendTo(text);
        return text.ToString();
    }
}
