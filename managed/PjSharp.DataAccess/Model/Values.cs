using System.Globalization;
using System.Net;

namespace PjSharp.DataAccess;

/// <summary>A caller id as Asterisk writes it: <c>"Name" &lt;number&gt;</c>.</summary>
public readonly record struct CallerId(string Name, string Number)
{
    /// <summary>True when neither name nor number is set.</summary>
    public bool IsEmpty => Name.Length == 0 && Number.Length == 0;

    /// <summary>Parses <c>"Name" &lt;number&gt;</c>, <c>Name &lt;number&gt;</c>, <c>&lt;number&gt;</c> or a bare number or name.</summary>
    public static CallerId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (text.Length == 0)
            return new CallerId("", "");
        var open = text.LastIndexOf('<');
        if (open >= 0)
        {
            var close = text.IndexOf('>', open);
            if (close < 0)
                throw new FormatException("missing '>' after the number");
            var name = text[..open].Trim();
            if (name.Length >= 2 && name[0] == '"' && name[^1] == '"')
                name = name[1..^1];
            return new CallerId(name, text[(open + 1)..close].Trim());
        }
        var unquoted = text.Length >= 2 && text[0] == '"' && text[^1] == '"' ? text[1..^1] : text;
        return LooksLikeNumber(unquoted) ? new CallerId("", unquoted) : new CallerId(unquoted, "");
    }

    private static bool LooksLikeNumber(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c) && c is not ('+' or '*' or '#' or '-' or '(' or ')' or ' '))
                return false;
        }
        return text.Length > 0;
    }

    /// <summary>The Asterisk form, <c>"Name" &lt;number&gt;</c>.</summary>
    public override string ToString() => IsEmpty ? "" : Name.Length == 0 ? $"<{Number}>" : $"\"{Name}\" <{Number}>";
}

/// <summary>One <c>permit</c> or <c>deny</c> line of an ACL: the last matching rule decides.</summary>
public readonly record struct AclRule(AclAction Action, IPNetwork Network)
{
    /// <summary>The rule as a config line, e.g. <c>deny=0.0.0.0/0</c>.</summary>
    public override string ToString() => $"{(Action == AclAction.Permit ? "permit" : "deny")}={Network}";
}

/// <summary>Parses addresses and networks the way Asterisk's config files write them.</summary>
public static class NetworkText
{
    /// <summary>
    /// Parses <c>10.0.0.0/8</c>, <c>10.0.0.0/255.0.0.0</c>, <c>2001:db8::/32</c> or a bare address (a host network).
    /// Host bits are cleared, as Asterisk does.
    /// </summary>
    public static bool TryParseNetwork(string text, out IPNetwork network)
    {
        network = default;
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (addressText.StartsWith('[') && addressText.EndsWith(']'))
            addressText = addressText[1..^1];
        if (!IPAddress.TryParse(addressText, out var address))
            return false;
        var bits = address.GetAddressBytes().Length * 8;
        int prefix;
        if (slash < 0)
        {
            prefix = bits;
        }
        else
        {
            var maskText = text[(slash + 1)..];
            if (int.TryParse(maskText, NumberStyles.None, CultureInfo.InvariantCulture, out prefix))
            {
                if (prefix > bits)
                    return false;
            }
            else if (IPAddress.TryParse(maskText, out var mask) && mask.AddressFamily == address.AddressFamily)
            {
                if (!TryMaskToPrefix(mask.GetAddressBytes(), out prefix))
                    return false;
            }
            else
            {
                return false;
            }
        }
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        network = new IPNetwork(new IPAddress(bytes), prefix);
        return true;
    }

    private static bool TryMaskToPrefix(byte[] mask, out int prefix)
    {
        prefix = 0;
        var seenZero = false;
        foreach (var b in mask)
        {
            for (var bit = 7; bit >= 0; bit--)
            {
                var set = (b >> bit & 1) == 1;
                if (set && seenZero)
                    return false;
                if (set)
                    prefix++;
                else
                    seenZero = true;
            }
        }
        return true;
    }

    /// <summary>Whether <paramref name="text"/> is a plausible DNS host name (letters, digits, '-', '.').</summary>
    public static bool IsHostName(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length is 0 or > 253 || text[0] == '.' || text[0] == '-')
            return false;
        foreach (var c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '.' or '_'))
                return false;
        }
        return true;
    }

    /// <summary>Formats an endpoint the way <c>bind</c> is written: <c>0.0.0.0:5060</c>, <c>[::]:5061</c>.</summary>
    public static string FormatEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var address = endPoint.Address.ToString();
        if (endPoint.Port == 0)
            return address;
        return endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? string.Create(CultureInfo.InvariantCulture, $"[{address}]:{endPoint.Port}")
            : string.Create(CultureInfo.InvariantCulture, $"{address}:{endPoint.Port}");
    }
}
