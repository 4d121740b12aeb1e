using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace PjSharp.Registrar;

/// <summary>
/// Parses Contact header values (RFC 3261 §20.10, §25.1) into <see cref="ContactEntry"/> values: name-addr
/// (<c>"Display, Name" &lt;sip:a@b;uri-param&gt;;expires=60</c>) or addr-spec (<c>sip:a@b;expires=60</c>, where every
/// <c>;</c> parameter belongs to the header), several comma-separated values per header, and the <c>*</c> wildcard.
/// A failure is a result, not an exception: answer 400 with the message.
/// </summary>
public static class ContactHeaderParser
{
    /// <summary>Parses every value of every Contact header of a request, in order.</summary>
    /// <param name="headerValues">The Contact header values as received (one per header line).</param>
    /// <param name="entries">The parsed entries, in order.</param>
    /// <param name="error">Why the header is malformed (for the 400's reason or a Warning), when parsing failed.</param>
    public static bool TryParse(IEnumerable<string> headerValues, [NotNullWhen(true)] out IReadOnlyList<ContactEntry>? entries, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(headerValues);
        var parsed = new List<ContactEntry>();
        foreach (var value in headerValues)
        {
            if (!new Cursor(value ?? "").TryParseAll(parsed, out error))
            {
                entries = null;
                error = $"invalid Contact '{Shorten(value ?? "")}': {error}";
                return false;
            }
        }
        entries = parsed;
        error = null;
        return true;
    }

    /// <summary>Parses one Contact header value, which may hold several comma-separated entries.</summary>
    public static bool TryParse(string headerValue, [NotNullWhen(true)] out IReadOnlyList<ContactEntry>? entries, [NotNullWhen(false)] out string? error) =>
        TryParse([headerValue], out entries, out error);

    private static string Shorten(string value) => value.Length <= 120 ? value : string.Concat(value.AsSpan(0, 117), "...");

    private ref struct Cursor(string text)
    {
        private readonly string _text = text;
        private int _at;

        private readonly bool AtEnd => _at >= _text.Length;

        private readonly char Current => _text[_at];

        private void SkipWhitespace()
        {
            while (!AtEnd && Current is ' ' or '\t' or '\r' or '\n')
                _at++;
        }

        public bool TryParseAll(List<ContactEntry> entries, [NotNullWhen(false)] out string? error)
        {
            SkipWhitespace();
            if (AtEnd)
            {
                error = "empty value";
                return false;
            }
            while (true)
            {
                SkipWhitespace();
                if (AtEnd)
                {
                    error = "a ',' is followed by nothing";
                    return false;
                }
                if (!TryParseEntry(out var entry, out error))
                    return false;
                entries.Add(entry);
                SkipWhitespace();
                if (AtEnd)
                    return true;
                if (Current != ',')
                {
                    error = Unexpected();
                    return false;
                }
                _at++;
            }
        }

        private readonly string Unexpected() =>
            string.Create(CultureInfo.InvariantCulture, $"unexpected '{Current}' at position {_at + 1}");

        private bool TryParseEntry([NotNullWhen(true)] out ContactEntry? entry, [NotNullWhen(false)] out string? error)
        {
            entry = null;
            if (Current == ',')
            {
                error = "an entry between commas is empty";
                return false;
            }
            if (Current == '*')
            {
                _at++;
                SkipWhitespace();
                if (!AtEnd && Current != ',')
                {
                    error = "'*' takes no parameters";
                    return false;
                }
                entry = ContactEntry.Wildcard;
                error = null;
                return true;
            }

            string? displayName = null;
            string uri;
            if (Current == '"')
            {
                if (!TryParseQuoted(out displayName, out error))
                    return false;
                SkipWhitespace();
                if (AtEnd || Current != '<')
                {
                    error = "a quoted display name must be followed by <URI>";
                    return false;
                }
            }
            else if (Current != '<')
            {
                // Unquoted display-name tokens come before '<'; a URI has its scheme's ':' first.
                var stop = _text.AsSpan(_at).IndexOfAny("<:,;\"");
                if (stop >= 0 && _text[_at + stop] == '<')
                {
                    var name = _text.AsSpan(_at, stop).Trim();
                    foreach (var c in name)
                    {
                        if (!IsTokenChar(c) && c is not (' ' or '\t'))
                        {
                            error = $"'{c}' in an unquoted display name (quote it)";
                            return false;
                        }
                    }
                    displayName = name.Length == 0 ? null : name.ToString();
                    _at += stop;
                }
            }

            if (!AtEnd && Current == '<')
            {
                var close = _text.IndexOf('>', _at + 1);
                if (close < 0)
                {
                    error = "'<' without '>'";
                    return false;
                }
                uri = _text[(_at + 1)..close].Trim();
                _at = close + 1;
            }
            else
            {
                // addr-spec: the URI ends at the first parameter, the next entry or whitespace.
                var start = _at;
                while (!AtEnd && Current is not (';' or ',' or ' ' or '\t' or '\r' or '\n'))
                    _at++;
                uri = _text[start.._at];
            }
            if (!IsValidUri(uri, out error))
                return false;

            uint? expires = null;
            double? q = null;
            var parameters = new List<KeyValuePair<string, string?>>();
            while (true)
            {
                SkipWhitespace();
                if (AtEnd || Current != ';')
                    break;
                _at++;
                SkipWhitespace();
                var nameStart = _at;
                while (!AtEnd && IsTokenChar(Current))
                    _at++;
                if (_at == nameStart)
                {
                    error = AtEnd ? "a parameter name is missing after ';'" : Unexpected();
                    return false;
                }
                var name = _text[nameStart.._at];
                string? value = null;
                SkipWhitespace();
                if (!AtEnd && Current == '=')
                {
                    _at++;
                    SkipWhitespace();
                    if (!AtEnd && Current == '"')
                    {
                        if (!TryParseQuoted(out value, out error))
                            return false;
                    }
                    else
                    {
                        var valueStart = _at;
                        while (!AtEnd && Current is not (';' or ',' or ' ' or '\t' or '\r' or '\n' or '"' or '<' or '>'))
                            _at++;
                        if (_at == valueStart)
                        {
                            error = $"parameter '{name}' has no value after '='";
                            return false;
                        }
                        value = _text[valueStart.._at];
                    }
                }
                if (name.Equals("expires", StringComparison.OrdinalIgnoreCase) && expires is null)
                {
                    if (!TryParseDeltaSeconds(value, out var seconds))
                    {
                        error = $"expires must be a number of seconds, not '{value}'";
                        return false;
                    }
                    expires = seconds;
                }
                else if (name.Equals("q", StringComparison.OrdinalIgnoreCase) && q is null)
                {
                    if (!TryParseQValue(value, out var quality))
                    {
                        error = $"q must be between 0 and 1 with at most 3 decimals, not '{value}'";
                        return false;
                    }
                    q = quality;
                }
                parameters.Add(new(name, value));
            }
            entry = new ContactEntry(uri) { DisplayName = displayName, Expires = expires, Q = q, Parameters = parameters };
            error = null;
            return true;
        }

        private bool TryParseQuoted(out string? value, [NotNullWhen(false)] out string? error)
        {
            var builder = new StringBuilder();
            _at++;
            while (!AtEnd)
            {
                var c = Current;
                _at++;
                if (c == '"')
                {
                    value = builder.ToString();
                    error = null;
                    return true;
                }
                if (c == '\\')
                {
                    if (AtEnd)
                        break;
                    c = Current;
                    _at++;
                }
                builder.Append(c);
            }
            value = null;
            error = "a quoted string is not closed";
            return false;
        }
    }

    private static bool IsValidUri(string uri, [NotNullWhen(false)] out string? error)
    {
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        if (uri.Length == 0 || colon <= 0 || colon == uri.Length - 1 || !char.IsAsciiLetter(uri[0]))
        {
            error = uri.Length == 0 ? "the URI is missing" : $"'{uri}' is not a URI (scheme:...)";
            return false;
        }
        for (var i = 1; i < colon; i++)
        {
            if (!char.IsAsciiLetterOrDigit(uri[i]) && uri[i] is not ('+' or '-' or '.'))
            {
                error = $"'{uri}' has an invalid scheme";
                return false;
            }
        }
        foreach (var c in uri)
        {
            if (char.IsWhiteSpace(c) || c is '<' or '>' or '"' || char.IsControl(c))
            {
                error = $"'{uri}' contains '{c}'";
                return false;
            }
        }
        error = null;
        return true;
    }

    // RFC 3261 token characters.
    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '!' or '%' or '*' or '_' or '+' or '`' or '\'' or '~';

    private static bool TryParseDeltaSeconds(string? text, out uint seconds)
    {
        seconds = 0;
        if (string.IsNullOrEmpty(text))
            return false;
        ulong value = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
                return false;
            // Longer than 32 bits saturates, as RFC 3261 §20.19 says of too-large expiry values.
            value = Math.Min(value * 10 + (ulong)(c - '0'), uint.MaxValue);
        }
        seconds = (uint)value;
        return true;
    }

    private static bool TryParseQValue(string? text, out double q)
    {
        q = 0;
        if (string.IsNullOrEmpty(text) || text.Length > 5 || (text[0] != '0' && text[0] != '1'))
            return false;
        if (text.Length > 1 && text[1] != '.')
            return false;
        for (var i = 2; i < text.Length; i++)
        {
            if (!char.IsAsciiDigit(text[i]) || (text[0] == '1' && text[i] != '0'))
                return false;
        }
        q = double.Parse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        return true;
    }
}
