namespace PjSharp.Sessions;

/// <summary>DTMF in SIP INFO bodies: <c>application/dtmf-relay</c> (<c>Signal=5</c>) and <c>application/dtmf</c> (<c>5</c>).</summary>
internal static class DtmfInfo
{
    public static bool TryParse(string contentType, string body, out char digit)
    {
        digit = '\0';
        var type = contentType.Split(';', 2)[0].Trim();
        if (type.Equals("application/dtmf-relay", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var line in body.Split('\n'))
            {
                var parts = line.Split('=', 2);
                if (parts.Length == 2 && parts[0].Trim().Equals("Signal", StringComparison.OrdinalIgnoreCase))
                    return TryDigit(parts[1].Trim(), out digit);
            }
            return false;
        }
        if (type.Equals("application/dtmf", StringComparison.OrdinalIgnoreCase))
            return TryDigit(body.Trim(), out digit);
        return false;
    }

    private static bool TryDigit(string value, out char digit)
    {
        digit = '\0';
        if (value == "10")
            value = "*";
        else if (value == "11")
            value = "#";
        if (value.Length != 1 || !SipSession.IsDtmfDigit(value[0]))
            return false;
        digit = char.ToUpperInvariant(value[0]);
        return true;
    }
}
