using System.Globalization;
using System.Text;

namespace PjSharp.DataAccess;

/// <summary>How bad a configuration finding is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>The configuration loads; something is ignored or suspicious.</summary>
    Warning,
    /// <summary>The configuration does not load.</summary>
    Error,
}

/// <summary>Where a configuration line came from: a file and a 1-based line, or a configuration path (line 0).</summary>
public readonly record struct SourceLocation(string File, int Line)
{
    /// <summary><c>file:line</c>, or the file alone when there is no line.</summary>
    public override string ToString() => Line > 0 ? string.Create(CultureInfo.InvariantCulture, $"{File}:{Line}") : File;
}

/// <summary>One finding in a configuration: where, which object and key, and what is wrong.</summary>
public sealed record ConfigDiagnostic(
    DiagnosticSeverity Severity,
    SourceLocation Location,
    string? ObjectType,
    string? ObjectId,
    string? Key,
    string Message)
{
    /// <summary>E.g. <c>pjsip.conf:42: endpoint 'alice': unknown option 'foo'</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(Location.ToString()).Append(": ");
        if (Severity == DiagnosticSeverity.Warning)
            text.Append("warning: ");
        if (ObjectType is not null && ObjectId is not null)
            text.Append(ObjectType).Append(" '").Append(ObjectId).Append("': ");
        else if (ObjectId is not null)
            text.Append('[').Append(ObjectId).Append("]: ");
        text.Append(Message);
        return text.ToString();
    }
}

/// <summary>A configuration with errors; <see cref="Diagnostics"/> lists all of them at once.</summary>
public sealed class ConfigurationException : Exception
{
    /// <summary>Creates the exception from the findings of one load.</summary>
    public ConfigurationException(IReadOnlyList<ConfigDiagnostic> diagnostics)
        : base(Describe(diagnostics)) => Diagnostics = diagnostics;

    /// <summary>Creates the exception with a message and no findings.</summary>
    public ConfigurationException(string message) : base(message) => Diagnostics = [];

    /// <summary>Creates the exception with a message and no findings.</summary>
    public ConfigurationException() : this("invalid configuration")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public ConfigurationException(string message, Exception innerException) : base(message, innerException) => Diagnostics = [];

    /// <summary>Every error and warning of the load that failed.</summary>
    public IReadOnlyList<ConfigDiagnostic> Diagnostics { get; }

    private static string Describe(IReadOnlyList<ConfigDiagnostic> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(diagnostics);
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{errors.Count} configuration error{(errors.Count == 1 ? "" : "s")}:");
        foreach (var error in errors)
            text.AppendLine().Append(error);
        return text.ToString();
    }
}

/// <summary>Collects findings so that all errors of a file are reported at once.</summary>
internal sealed class DiagnosticBag
{
    private readonly List<ConfigDiagnostic> _items = [];

    public IReadOnlyList<ConfigDiagnostic> Items => _items;

    public int ErrorCount { get; private set; }

    public void Error(SourceLocation location, string? type, string? id, string? key, string message) =>
        Add(new ConfigDiagnostic(DiagnosticSeverity.Error, location, type, id, key, message));

    public void Warning(SourceLocation location, string? type, string? id, string? key, string message) =>
        Add(new ConfigDiagnostic(DiagnosticSeverity.Warning, location, type, id, key, message));

    public void Add(ConfigDiagnostic diagnostic)
    {
        _items.Add(diagnostic);
        if (diagnostic.Severity == DiagnosticSeverity.Error)
            ErrorCount++;
    }

    public void AddRange(IEnumerable<ConfigDiagnostic> diagnostics)
    {
        foreach (var diagnostic in diagnostics)
            Add(diagnostic);
    }
}
