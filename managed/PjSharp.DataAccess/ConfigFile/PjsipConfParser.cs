using System.Text;

namespace PjSharp.DataAccess.ConfigFile;

/// <summary>One <c>[section]</c> after templates are applied: inherited lines first, then its own.</summary>
internal sealed class ConfigSection(string name, bool isTemplate, SourceLocation header)
{
    public string Name { get; } = name;

    public bool IsTemplate { get; } = isTemplate;

    public SourceLocation Header { get; } = header;

    public List<OptionAssignment> Lines { get; } = [];
}

/// <summary>
/// Reads Asterisk config syntax: <c>[name]</c>, <c>[name](!)</c> templates, <c>[name](tmpl1,tmpl2)</c> inheritance,
/// <c>[name](+)</c> additions, <c>key = value</c> and <c>key => value</c>, <c>;</c> and <c>;-- --;</c> comments,
/// <c>\;</c> escapes, <c>#include</c> and <c>#tryinclude</c> (with wildcards). Every problem is collected, none stops the read.
/// </summary>
internal sealed class PjsipConfParser
{
    private const int MaxIncludeDepth = 32;

    private readonly DiagnosticBag _bag;
    private readonly string _configDirectory;
    private readonly string _displayDirectory;
    private readonly List<ConfigSection> _sections = [];
    private readonly Dictionary<string, ConfigSection> _lastByName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ConfigSection> _lastTemplateByName = new(StringComparer.Ordinal);
    private readonly Stack<string> _including = new();
    private ConfigSection? _current;

    private PjsipConfParser(string path, string displayPath, DiagnosticBag bag)
    {
        _bag = bag;
        _configDirectory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        _displayDirectory = Path.GetDirectoryName(displayPath) ?? "";
    }

    /// <summary>Parses <paramref name="path"/> and its includes; messages name files as <paramref name="displayPath"/> does.</summary>
    public static List<ConfigSection> Parse(string path, string displayPath, DiagnosticBag bag)
    {
        var parser = new PjsipConfParser(path, displayPath, bag);
        if (!File.Exists(path))
        {
            bag.Error(new SourceLocation(displayPath, 0), null, null, null, "file not found");
            return [];
        }
        parser.ParseFile(Path.GetFullPath(path), displayPath);
        return parser._sections;
    }

    private void ParseFile(string fullPath, string display)
    {
        _including.Push(fullPath);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(fullPath);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            _bag.Error(new SourceLocation(display, 0), null, null, null, $"cannot read: {error.Message}");
            _including.Pop();
            return;
        }
        var commentDepth = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var location = new SourceLocation(display, i + 1);
            var text = StripComments(lines[i], ref commentDepth).Trim();
            if (text.Length == 0)
                continue;
            if (text[0] == '#')
                Directive(text, location);
            else if (text[0] == '[')
                Header(text, location);
            else
                Assignment(text, location);
        }
        if (commentDepth > 0)
            _bag.Error(new SourceLocation(display, lines.Length), null, null, null, "block comment ';--' is not closed with '--;'");
        _including.Pop();
    }

    private static string StripComments(string line, ref int depth)
    {
        if (depth == 0 && line.IndexOfAny([';', '\\']) < 0)
            return line;
        var result = new StringBuilder(line.Length);
        for (var i = 0; i < line.Length; i++)
        {
            if (depth > 0)
            {
                if (string.CompareOrdinal(line, i, "--;", 0, 3) == 0)
                {
                    depth--;
                    i += 2;
                }
                else if (string.CompareOrdinal(line, i, ";--", 0, 3) == 0)
                {
                    depth++;
                    i += 2;
                }
                continue;
            }
            var c = line[i];
            if (c == '\\' && i + 1 < line.Length && line[i + 1] == ';')
            {
                result.Append(';');
                i++;
            }
            else if (c == ';')
            {
                if (string.CompareOrdinal(line, i, ";--", 0, 3) == 0)
                {
                    depth++;
                    i += 2;
                    continue;
                }
                break;
            }
            else
            {
                result.Append(c);
            }
        }
        return result.ToString();
    }

    private void Directive(string text, SourceLocation location)
    {
        var space = text.IndexOfAny([' ', '\t', '"', '<']);
        var name = (space < 0 ? text : text[..space]).ToLowerInvariant();
        var argument = (space < 0 ? "" : text[space..]).Trim();
        if (argument.Length >= 2 && ((argument[0] == '"' && argument[^1] == '"') || (argument[0] == '<' && argument[^1] == '>')))
            argument = argument[1..^1].Trim();
        switch (name)
        {
            case "#include":
            case "#tryinclude":
                Include(argument, name == "#tryinclude", location);
                break;
            case "#exec":
                _bag.Error(location, null, null, "#exec", "'#exec' is not supported; generate the file beforehand and #include it");
                break;
            default:
                _bag.Error(location, null, null, name, $"unknown directive '{name}' (expected #include or #tryinclude)");
                break;
        }
    }

    private void Include(string argument, bool optional, SourceLocation location)
    {
        if (argument.Length == 0)
        {
            _bag.Error(location, null, null, "#include", "#include needs a file name");
            return;
        }
        // Like Asterisk, a relative include is relative to the configuration directory, not to the including file.
        var pattern = Path.IsPathRooted(argument) ? argument : Path.Combine(_configDirectory, argument);
        var files = Expand(pattern);
        if (files.Count == 0)
        {
            if (!optional)
                _bag.Error(location, null, null, "#include", $"included file '{argument}' not found");
            return;
        }
        foreach (var file in files)
        {
            if (_including.Contains(file))
            {
                _bag.Error(location, null, null, "#include", $"'{argument}' includes itself (include cycle)");
                continue;
            }
            if (_including.Count >= MaxIncludeDepth)
            {
                _bag.Error(location, null, null, "#include", $"includes nested deeper than {MaxIncludeDepth}");
                return;
            }
            var display = Path.IsPathRooted(argument)
                ? file
                : Path.Combine(_displayDirectory, Path.GetRelativePath(_configDirectory, file));
            ParseFile(file, display);
        }
    }

    private static List<string> Expand(string pattern)
    {
        var fileName = Path.GetFileName(pattern);
        if (fileName.IndexOfAny(['*', '?']) < 0)
            return File.Exists(pattern) ? [Path.GetFullPath(pattern)] : [];
        var directory = Path.GetDirectoryName(pattern) ?? ".";
        if (!Directory.Exists(directory))
            return [];
        var files = Directory.GetFiles(directory, fileName).Select(Path.GetFullPath).ToList();
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    private void Header(string text, SourceLocation location)
    {
        var close = text.IndexOf(']', StringComparison.Ordinal);
        if (close < 0)
        {
            _bag.Error(location, null, null, null, "section header is missing ']'");
            _current = null;
            return;
        }
        var name = text[1..close].Trim();
        if (name.Length == 0)
        {
            _bag.Error(location, null, null, null, "section name is empty");
            _current = null;
            return;
        }
        var rest = text[(close + 1)..].Trim();
        var isTemplate = false;
        var append = false;
        var templates = new List<string>();
        if (rest.Length > 0)
        {
            if (rest[0] != '(' || rest[^1] != ')')
            {
                _bag.Error(location, null, name, null, $"unexpected '{rest}' after the section header (expected (!), (+) or (template,...))");
                _current = null;
                return;
            }
            foreach (var item in rest[1..^1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (item == "!")
                    isTemplate = true;
                else if (item == "+")
                    append = true;
                else
                    templates.Add(item);
            }
        }
        if (append)
        {
            if (!_lastByName.TryGetValue(name, out var existing))
            {
                _bag.Error(location, null, name, null, $"[{name}](+) adds to a section that is not defined above");
                _current = null;
                return;
            }
            _current = existing;
            return;
        }
        var section = new ConfigSection(name, isTemplate, location);
        foreach (var template in templates)
        {
            if (!_lastTemplateByName.TryGetValue(template, out var source) && !_lastByName.TryGetValue(template, out source))
            {
                _bag.Error(location, null, name, null, $"template '{template}' is not defined above");
                continue;
            }
            section.Lines.AddRange(source.Lines);
        }
        _sections.Add(section);
        _lastByName[name] = section;
        if (isTemplate)
            _lastTemplateByName[name] = section;
        _current = section;
    }

    private void Assignment(string text, SourceLocation location)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            _bag.Error(location, null, _current?.Name, null, $"expected 'name = value', got '{text}'");
            return;
        }
        var key = text[..equals].Trim();
        var value = text[(equals + 1)..];
        if (value.StartsWith('>'))
            value = value[1..];
        value = value.Trim();
        if (_current is null)
        {
            _bag.Error(location, null, null, key, $"'{key}' is outside of any section");
            return;
        }
        _current.Lines.Add(new OptionAssignment(key, value, location));
    }
}
