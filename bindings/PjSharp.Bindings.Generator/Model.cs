namespace PjSharp.Bindings.Generator;

internal enum FieldKind
{
    Normal,
    FixedBuffer,
    InlineArray,
    Bitfield,
    Nested,
}

internal sealed record FieldModel(string Name, long Offset, string Type, FieldKind Kind)
{
    /// <summary>The C member name (C# names may carry an '@' or a '_' suffix).</summary>
    public string CName { get; init; } = "";

    public long Count { get; init; }

    public int Shift { get; init; }

    public int Width { get; init; }

    public bool Signed { get; init; }

    /// <summary>For a bitfield: the unsigned integer holding its unit.</summary>
    public string StorageType { get; init; } = "";

    public RecordModel? Nested { get; init; }
}

internal sealed record InlineArrayModel(string Name, string Element, long Count);

internal sealed class RecordModel(string csName, string? cName, long size, bool isUnion)
{
    /// <summary>The C# type name; nested types have a simple name inside their parent.</summary>
    public string CsName { get; } = csName;

    /// <summary>How C names the type (for sizeof/offsetof); null for an unnamed nested record.</summary>
    public string? CName { get; } = cName;

    public long Size { get; } = size;

    public bool IsUnion { get; } = isUnion;

    public List<FieldModel> Fields { get; } = [];

    /// <summary>Unnamed records used by this record's fields, declared as nested types.</summary>
    public List<RecordModel> NestedRecords { get; } = [];

    public List<InlineArrayModel> InlineArrays { get; } = [];

    public bool HasMember(string name) =>
        Fields.Any(f => f.Name == name) || NestedRecords.Any(n => n.CsName == name) || InlineArrays.Any(a => a.Name == name);
}
