using System.Globalization;
using System.Text;

namespace PjSharp.Media;

/// <summary>Edits of SDP given as text (passthrough sessions): what a B2BUA changes in a description it does not own.</summary>
public static class SdpText
{
    /// <summary>
    /// The same description with every stream's direction set to <paramref name="direction"/> and the
    /// origin's version one higher (RFC 3264 §8: a changed description gets a new version).
    /// </summary>
    public static string WithDirection(string sdp, SdpDirection direction)
    {
        ArgumentNullException.ThrowIfNull(sdp);
        var name = direction switch
        {
            SdpDirection.SendOnly => "sendonly",
            SdpDirection.RecvOnly => "recvonly",
            SdpDirection.Inactive => "inactive",
            _ => "sendrecv",
        };
        var output = new StringBuilder(sdp.Length + 16);
        var inMedia = false;
        var wrote = false;
        foreach (var raw in sdp.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
                continue;
            if (line.StartsWith("m=", StringComparison.Ordinal))
            {
                if (inMedia && !wrote)
                    output.Append("a=").Append(name).Append("\r\n");
                inMedia = true;
                wrote = false;
            }
            else if (line is "a=sendrecv" or "a=sendonly" or "a=recvonly" or "a=inactive")
            {
                if (!inMedia)
                    continue;
                line = "a=" + name;
                wrote = true;
            }
            else if (line.StartsWith("o=", StringComparison.Ordinal))
            {
                line = NextVersion(line);
            }
            output.Append(line).Append("\r\n");
        }
        if (inMedia && !wrote)
            output.Append("a=").Append(name).Append("\r\n");
        return output.ToString();
    }

    /// <summary>The description with its origin's version one higher.</summary>
    public static string NextVersion(string originLine)
    {
        ArgumentNullException.ThrowIfNull(originLine);
        var parts = originLine.Split(' ');
        if (parts.Length >= 6 && ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            parts[2] = (version + 1).ToString(CultureInfo.InvariantCulture);
        return string.Join(' ', parts);
    }
}
