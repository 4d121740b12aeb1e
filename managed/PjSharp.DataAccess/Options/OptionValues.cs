using System.Globalization;

namespace PjSharp.DataAccess;

/// <summary>A bad option value; the message says what was expected, the caller adds file, line and key.</summary>
internal sealed class OptionValueException : FormatException
{
    public OptionValueException(string message) : base(message)
    {
    }

    public OptionValueException()
    {
    }

    public OptionValueException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>Parsers for option values, with Asterisk's spellings.</summary>
internal static class OptionValues
{
    /// <summary>Unix time in seconds (dynamic objects' timestamps); empty is the epoch, "never".</summary>
    public static DateTimeOffset ParseUnixTime(string value)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
            return DateTimeOffset.UnixEpoch;
        if (!long.TryParse(trimmed, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds > 253402300799)
            throw new OptionValueException($"invalid value '{value}': expected Unix time in seconds");
        return DateTimeOffset.FromUnixTimeSeconds(seconds);
    }

    private static readonly string[] TrueWords = ["yes", "true", "y", "t", "1", "on"];
    private static readonly string[] FalseWords = ["no", "false", "n", "f", "0", "off"];

    /// <summary>Asterisk's <c>ast_true</c>.</summary>
    public static bool IsTrue(string value) => TrueWords.Contains(value.Trim(), StringComparer.OrdinalIgnoreCase);

    /// <summary>Asterisk's <c>ast_false</c>.</summary>
    public static bool IsFalse(string value) => FalseWords.Contains(value.Trim(), StringComparer.OrdinalIgnoreCase);

    public static bool ParseBool(string value)
    {
        if (IsTrue(value))
            return true;
        if (IsFalse(value))
            return false;
        throw new OptionValueException($"invalid value '{value}': expected yes or no");
    }

    public static string FormatBool(bool value) => value ? "yes" : "no";

    public static uint ParseUInt(string value, uint min = 0, uint max = uint.MaxValue)
    {
        if (!uint.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var result))
            throw new OptionValueException($"invalid value '{value}': expected a whole number");
        if (result < min || result > max)
            throw new OptionValueException(string.Create(CultureInfo.InvariantCulture, $"invalid value '{value}': expected {min} to {max}"));
        return result;
    }

    public static double ParseDouble(string value, double min = 0, double max = double.MaxValue)
    {
        if (!double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var result) || double.IsNaN(result))
            throw new OptionValueException($"invalid value '{value}': expected a number");
        if (result < min || result > max)
            throw new OptionValueException(string.Create(CultureInfo.InvariantCulture, $"invalid value '{value}': expected {min} to {max}"));
        return result;
    }

    public static string FormatDouble(double value) => value.ToString("0.0##", CultureInfo.InvariantCulture);

    public static string FormatUInt(uint value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Splits a comma list, trimming items and dropping empty ones.</summary>
    public static IEnumerable<string> SplitList(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    public static ValueList<string> ParseNameList(string value) => ValueList.From(SplitList(value));

    public static TEnum ParseEnum<TEnum>(string value, IReadOnlyList<(string Name, TEnum Value)> names)
        where TEnum : struct, Enum
    {
        var trimmed = value.Trim();
        foreach (var (name, item) in names)
        {
            if (string.Equals(name, trimmed, StringComparison.OrdinalIgnoreCase))
                return item;
        }
        throw new OptionValueException($"invalid value '{value}': expected one of {string.Join(", ", names.Select(n => n.Name).Distinct())}");
    }

    public static string FormatEnum<TEnum>(TEnum value, IReadOnlyList<(string Name, TEnum Value)> names)
        where TEnum : struct, Enum
    {
        foreach (var (name, item) in names)
        {
            if (EqualityComparer<TEnum>.Default.Equals(item, value))
                return name;
        }
        return value.ToString().ToLowerInvariant();
    }

    public static string ParseSipUri(string value)
    {
        var trimmed = value.Trim();
        if (trimmed.StartsWith('<') && trimmed.EndsWith('>'))
            trimmed = trimmed[1..^1];
        if (!(trimmed.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("sips:", StringComparison.OrdinalIgnoreCase))
            || trimmed.Length <= (trimmed[3] == ':' ? 4 : 5)
            || trimmed.Any(char.IsWhiteSpace))
            throw new OptionValueException($"invalid value '{value}': expected a sip: or sips: URI");
        return trimmed;
    }
}
