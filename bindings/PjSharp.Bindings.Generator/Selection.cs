using System.Text;
using System.Text.RegularExpressions;

namespace PjSharp.Bindings.Generator;

/// <summary>NativeMethods.txt: which headers to read and which names to bind.</summary>
internal sealed partial class Selection
{
    private readonly List<(string Pattern, string File, int Line)> _includes = [];
    private readonly List<(string Pattern, string File, int Line)> _excludes = [];
    private readonly HashSet<string> _matchedExact = new(StringComparer.Ordinal);

    public string IncludeSource { get; private set; } = "";

    public IReadOnlyList<string> IncludeLines { get; private set; } = [];

    public static Selection Read(string path)
    {
        if (!File.Exists(path))
            throw new GeneratorException($"{path}: file not found.");
        var selection = new Selection();
        var includes = new List<string>();
        var lineNumber = 0;
        foreach (var raw in File.ReadAllLines(path))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal))
                continue;
            if (line.StartsWith("#include", StringComparison.Ordinal))
            {
                includes.Add(line);
                continue;
            }
            if (!NamePattern().IsMatch(line))
                throw new GeneratorException($"{path}:{lineNumber}: '{line}' is not a C name, a prefix ending in '*', or one of those after '-'.");
            if (line[0] == '-')
                selection._excludes.Add((line[1..], path, lineNumber));
            else
                selection._includes.Add((line, path, lineNumber));
        }
        if (includes.Count == 0)
            throw new GeneratorException($"{path}: no #include lines name the headers to read.");
        selection.IncludeLines = includes;
        selection.IncludeSource = string.Join("\n", includes) + "\n";
        return selection;
    }

    /// <summary>Whether a name is wanted; exact entries are remembered so unmatched ones can be reported.</summary>
    public bool Wants(string name, out bool exact)
    {
        exact = false;
        if (_excludes.Any(e => Matches(e.Pattern, name)))
            return false;
        foreach (var (pattern, _, _) in _includes)
        {
            if (pattern == name)
            {
                exact = true;
                _matchedExact.Add(name);
                return true;
            }
        }
        return _includes.Any(i => i.Pattern.EndsWith('*') && Matches(i.Pattern, name));
    }

    public bool IsExact(string name) => _includes.Any(i => i.Pattern == name);

    public (string File, int Line) Origin(string name)
    {
        var entry = _includes.First(i => i.Pattern == name || (i.Pattern.EndsWith('*') && Matches(i.Pattern, name)));
        return (entry.File, entry.Line);
    }

    public IEnumerable<(string Name, string File, int Line)> UnmatchedExact() =>
        _includes.Where(i => !i.Pattern.EndsWith('*') && !_matchedExact.Contains(i.Pattern)).Select(i => (i.Pattern, i.File, i.Line));

    private static bool Matches(string pattern, string name) =>
        pattern.EndsWith('*') ? name.StartsWith(pattern[..^1], StringComparison.Ordinal) : pattern == name;

    [GeneratedRegex(@"^-?[A-Za-z_][A-Za-z0-9_]*\*?$")]
    private static partial Regex NamePattern();
}

/// <summary>Reads the PJSHARP_PJPROJECT_DEFINES list of native/pjproject-settings.cmake.</summary>
internal static class SettingsFile
{
    public static IReadOnlyList<string> ReadDefines(string path)
    {
        if (!File.Exists(path))
            throw new GeneratorException($"{path}: file not found.");
        var text = new StringBuilder();
        foreach (var line in File.ReadAllLines(path))
        {
            var hash = line.IndexOf('#', StringComparison.Ordinal);
            text.Append(hash >= 0 ? line[..hash] : line).Append('\n');
        }
        var content = text.ToString();
        const string marker = "set(PJSHARP_PJPROJECT_DEFINES";
        var start = content.IndexOf(marker, StringComparison.Ordinal);
        if (start < 0)
            throw new GeneratorException($"{path}: no '{marker} ...)' list.");
        var end = content.IndexOf(')', start);
        return content[(start + marker.Length)..end].Split((char[])[' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
    }
}
