using System.Security;
using System.Text;
using System.Text.RegularExpressions;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>
/// A copy of a tests/Sipp template with its <c>@TOKEN@</c> placeholders (and any other text)
/// replaced, in a file of its own that is deleted on dispose. Checks are SIPp <c>ereg</c> actions;
/// the variables they assign are referenced once more so SIPp accepts them.
/// </summary>
internal sealed class SippScenario : IDisposable
{
    private readonly string _template;
    private readonly List<(string Old, string New)> _replacements = [];
    private readonly List<string> _variables = [];
    private string? _path;

    private SippScenario(string template) => _template = template;

    public static SippScenario Load(string fileName) => new(File.ReadAllText(SippRunner.Scenario(fileName)));

    /// <summary>The written file (written on first use).</summary>
    public string Path => _path ??= Write();

    /// <summary>Replaces <c>@token@</c>.</summary>
    public SippScenario Set(string token, string value) => Replace($"@{token}@", value);

    public SippScenario Replace(string old, string value)
    {
        if (_path != null)
            throw new InvalidOperationException("The scenario is already written.");
        _replacements.Add((old, value));
        return this;
    }

    /// <summary>Replaces <c>@token@</c> with checks made by <see cref="Header"/>, <see cref="NoHeader"/> and <see cref="Body"/>.</summary>
    public SippScenario Checks(string token, params string[] checks) => Set(token, string.Join("\n      ", checks));

    /// <summary>The header is present and its value matches <paramref name="regexp"/> (POSIX extended).</summary>
    public string Header(string name, string regexp) => Ereg(regexp, $"search_in=\"hdr\" header=\"{name}:\"", "check_it");

    /// <summary>The header is absent (or empty).</summary>
    public string NoHeader(string name) => Ereg(".", $"search_in=\"hdr\" header=\"{name}:\"", "check_it_inverse");

    /// <summary>The body matches <paramref name="regexp"/>.</summary>
    public string Body(string regexp) => Ereg(regexp, "search_in=\"body\"", "check_it");

    /// <summary>The body does not match <paramref name="regexp"/>.</summary>
    public string NoBody(string regexp) => Ereg(regexp, "search_in=\"body\"", "check_it_inverse");

    private string Ereg(string regexp, string where, string check)
    {
        var variable = $"check{_variables.Count + 1}";
        _variables.Add(variable);
        return $"<ereg regexp=\"{SecurityElement.Escape(regexp)}\" {where} {check}=\"true\" assign_to=\"{variable}\" />";
    }

    private string Write()
    {
        var text = new StringBuilder(_template);
        foreach (var (old, value) in _replacements)
        {
            if (!text.ToString().Contains(old, StringComparison.Ordinal))
                throw new InvalidOperationException($"The template has no '{old}'.");
            // An empty value drops its line: a blank line inside a message would end its headers.
            if (value.Length == 0)
                text = new StringBuilder(Regex.Replace(text.ToString(), $"^[ \t]*{Regex.Escape(old)}[ \t]*\r?\n", "", RegexOptions.Multiline));
            text.Replace(old, value);
        }
        // Every assigned variable must be referenced again, or SIPp refuses the scenario.
        if (_variables.Count > 0)
            text.Replace("</scenario>", $"  <Reference variables=\"{string.Join(',', _variables)}\" />\n</scenario>");
        var result = text.ToString();
        var unreplaced = Regex.Match(result, "@[A-Z_0-9]+@");
        if (unreplaced.Success)
            throw new InvalidOperationException($"The scenario still has {unreplaced.Value}.");
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"pjsharp-scenario-{Guid.NewGuid():N}.xml");
        File.WriteAllText(path, result);
        return path;
    }

    public void Dispose()
    {
        if (_path != null)
            File.Delete(_path);
    }
}
