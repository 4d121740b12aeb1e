namespace PjSharp.DataAccess;

/// <summary>One option of an object type, under its Asterisk name.</summary>
public sealed class ObjectOption
{
    private readonly Func<SipObject, string, SipObject> _apply;
    private readonly Action<SipObject, List<KeyValuePair<string, string>>> _emit;

    internal ObjectOption(
        string name,
        bool isRepeatable,
        Func<SipObject, string, SipObject> apply,
        Action<SipObject, List<KeyValuePair<string, string>>> emit)
    {
        Name = name;
        IsRepeatable = isRepeatable;
        _apply = apply;
        _emit = emit;
    }

    /// <summary>The option's name, as in <c>pjsip.conf</c>.</summary>
    public string Name { get; }

    /// <summary>True when each line adds to the value (<c>allow</c>, <c>match</c>, <c>contact</c>, <c>permit</c>) instead of replacing it.</summary>
    public bool IsRepeatable { get; }

    /// <summary>The value an object has when the option is not set, as the config file would write it.</summary>
    public string DefaultValue { get; internal set; } = "";

    /// <summary>Applies one <c>name=value</c> line to <paramref name="target"/>; throws <see cref="FormatException"/> for a bad value.</summary>
    public SipObject Apply(SipObject target, string value)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(value);
        return _apply(target, value);
    }

    /// <summary>The <c>name=value</c> lines that reproduce this option's value (none when another option writes them).</summary>
    internal void Emit(SipObject source, List<KeyValuePair<string, string>> fields) => _emit(source, fields);

    /// <inheritdoc/>
    public override string ToString() => Name;
}
