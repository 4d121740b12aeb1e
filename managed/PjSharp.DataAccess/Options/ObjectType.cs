using System.Collections.Frozen;

namespace PjSharp.DataAccess;

/// <summary>
/// Describes one object type (endpoint, aor, contact, ...): its name, its options with Asterisk's names and defaults,
/// and its validation. Every backend stores an object as the ordered <c>name=value</c> lines of <see cref="ToFields"/>.
/// </summary>
public abstract class ObjectType
{
    private FrozenDictionary<string, ObjectOption> _byName = FrozenDictionary<string, ObjectOption>.Empty;
    private FrozenSet<string> _unsupported = FrozenSet<string>.Empty;

    private protected ObjectType(string name, Type clrType, bool isDynamic)
    {
        Name = name;
        ClrType = clrType;
        IsDynamic = isDynamic;
    }

    /// <summary>The type's name, as written in <c>type=</c>.</summary>
    public string Name { get; }

    /// <summary>The .NET type of its objects.</summary>
    public Type ClrType { get; }

    /// <summary>True for state written at run time (contacts): never read from configuration files.</summary>
    public bool IsDynamic { get; }

    /// <summary>The options, in the order their fields are written.</summary>
    public IReadOnlyList<ObjectOption> Options { get; private set; } = [];

    /// <summary>Asterisk options of this type that PjSharp does not implement: a config file may hold them (ignored, with a warning).</summary>
    public IReadOnlyCollection<string> UnsupportedAsteriskOptions => _unsupported;

    private protected void SetOptions(IReadOnlyList<ObjectOption> options, IEnumerable<string> unsupported)
    {
        Options = options;
        _byName = options.ToFrozenDictionary(o => o.Name, StringComparer.OrdinalIgnoreCase);
        _unsupported = unsupported.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        var defaults = CreateDefault("default");
        foreach (var option in options)
        {
            var fields = new List<KeyValuePair<string, string>>();
            option.Emit(defaults, fields);
            option.DefaultValue = string.Join(",", fields.Select(f => f.Value));
        }
    }

    /// <summary>The option named <paramref name="name"/> (case-insensitive), or null.</summary>
    public ObjectOption? FindOption(string name) => _byName.GetValueOrDefault(name);

    /// <summary>An object with every option at its default.</summary>
    public abstract SipObject CreateDefault(string id);

    /// <summary>Problems that single options cannot see (a required option missing, options that contradict).</summary>
    internal abstract IEnumerable<(string Key, string Message)> Validate(SipObject value);

    /// <summary>
    /// The object as ordered <c>name=value</c> lines; applying them to <see cref="CreateDefault"/> gives the object back.
    /// </summary>
    /// <param name="value">The object.</param>
    /// <param name="includeDefaults">False to leave out options at their default (for writing readable files).</param>
    public IReadOnlyList<KeyValuePair<string, string>> ToFields(SipObject value, bool includeDefaults = true)
    {
        CheckType(value);
        var fields = new List<KeyValuePair<string, string>>(Options.Count + 4);
        if (includeDefaults)
        {
            foreach (var option in Options)
                option.Emit(value, fields);
            return fields;
        }
        var defaults = CreateDefault(value.Id);
        var mine = new List<KeyValuePair<string, string>>();
        var theirs = new List<KeyValuePair<string, string>>();
        foreach (var option in Options)
        {
            mine.Clear();
            theirs.Clear();
            option.Emit(value, mine);
            option.Emit(defaults, theirs);
            if (!mine.SequenceEqual(theirs))
                fields.AddRange(mine);
        }
        return fields;
    }

    /// <summary>The values of option <paramref name="field"/> in <paramref name="value"/> (several for repeatable options).</summary>
    public IEnumerable<string> GetFieldValues(SipObject value, string field)
    {
        var option = FindOption(field) ?? throw new ArgumentException($"{Name} has no option '{field}'", nameof(field));
        return GetFieldValues(ToFields(value), option.Name);
    }

    internal static IEnumerable<string> GetFieldValues(IReadOnlyList<KeyValuePair<string, string>> fields, string canonicalName)
    {
        foreach (var pair in fields)
        {
            if (string.Equals(pair.Key, canonicalName, StringComparison.Ordinal))
                yield return pair.Value;
        }
    }

    /// <summary>
    /// The canonical option name and value for a retrieve-by-field query: <c>true</c> becomes <c>yes</c>, a codec list
    /// is normalised, so that every backend compares the same text.
    /// </summary>
    public (string Field, string Value) CanonicalizeField(string field, string value)
    {
        ArgumentNullException.ThrowIfNull(field);
        ArgumentNullException.ThrowIfNull(value);
        var option = FindOption(field) ?? throw new ArgumentException($"{Name} has no option '{field}'", nameof(field));
        SipObject applied;
        try
        {
            applied = option.Apply(CreateDefault("query"), value);
        }
        catch (FormatException error)
        {
            throw new ArgumentException($"{Name} '{field}': {error.Message}", nameof(value), error);
        }
        var match = ToFields(applied).FirstOrDefault(f => string.Equals(f.Key, option.Name, StringComparison.Ordinal));
        return (option.Name, match.Key is null ? value : match.Value);
    }

    /// <summary>Builds an object from <c>name=value</c> lines; throws <see cref="ConfigurationException"/> listing every problem.</summary>
    public SipObject FromFields(string id, IEnumerable<KeyValuePair<string, string>> fields, string source = "fields")
    {
        ArgumentNullException.ThrowIfNull(fields);
        var bag = new DiagnosticBag();
        var location = new SourceLocation(source, 0);
        var result = Build(id, fields.Select(f => new OptionAssignment(f.Key, f.Value, location)), location, bag, warnUnsupported: false);
        if (bag.ErrorCount > 0)
            throw new ConfigurationException(bag.Items);
        return result;
    }

    /// <summary>Applies lines in order and validates; problems go to <paramref name="bag"/>, the object is returned anyway.</summary>
    internal SipObject Build(string id, IEnumerable<OptionAssignment> lines, SourceLocation header, DiagnosticBag bag, bool warnUnsupported = true)
    {
        var current = CreateDefault(id);
        var errorsBefore = bag.ErrorCount;
        foreach (var line in lines)
        {
            if (string.Equals(line.Key, "type", StringComparison.OrdinalIgnoreCase))
                continue;
            var option = FindOption(line.Key);
            if (option is null)
            {
                if (_unsupported.Contains(line.Key))
                {
                    if (warnUnsupported)
                        bag.Warning(line.Location, Name, id, line.Key, $"option '{line.Key}' is not supported by PjSharp; ignored");
                }
                else
                {
                    bag.Error(line.Location, Name, id, line.Key, $"unknown option '{line.Key}'");
                }
                continue;
            }
            try
            {
                current = option.Apply(current, line.Value);
            }
            catch (FormatException error)
            {
                bag.Error(line.Location, Name, id, option.Name, $"{option.Name}: {error.Message}");
            }
        }
        if (bag.ErrorCount == errorsBefore)
        {
            foreach (var (key, message) in Validate(current))
                bag.Error(header, Name, id, key, $"{key}: {message}");
        }
        return current;
    }

    private void CheckType(SipObject value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!ReferenceEquals(value.ObjectType, this))
            throw new ArgumentException($"object '{value.Id}' is a {value.ObjectType.Name}, not a {Name}", nameof(value));
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>One <c>name=value</c> line with where it came from.</summary>
internal readonly record struct OptionAssignment(string Key, string Value, SourceLocation Location);

/// <summary>The descriptor of objects of type <typeparamref name="T"/>.</summary>
public sealed class ObjectType<T> : ObjectType where T : SipObject
{
    private readonly Func<string, T> _create;
    private readonly Func<T, IEnumerable<(string Key, string Message)>>? _validate;

    internal ObjectType(
        string name,
        bool isDynamic,
        Func<string, T> create,
        Action<OptionSet<T>> define,
        Func<T, IEnumerable<(string Key, string Message)>>? validate = null,
        IEnumerable<string>? unsupported = null)
        : base(name, typeof(T), isDynamic)
    {
        _create = create;
        _validate = validate;
        var set = new OptionSet<T>();
        define(set);
        SetOptions(set.Options, unsupported ?? []);
    }

    /// <summary>An object with every option at its default.</summary>
    public T Create(string id) => _create(id);

    /// <inheritdoc/>
    public override SipObject CreateDefault(string id) => _create(id);

    internal override IEnumerable<(string Key, string Message)> Validate(SipObject value) =>
        _validate is null ? [] : _validate((T)value);
}
