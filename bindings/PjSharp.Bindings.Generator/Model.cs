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
    public long Count { get; init; }
    public int Shift { get; init; }
    public int Width { get; init; }
    public RecordModel? Nested { get; init; }
}

internal sealed class RecordModel(string csName, string? cName, long size, bool isUnion)
{
    public string CsName { get; } = csName;

    /// <summary>How C names the type (for offsetof); null for an unnamed nested record.</summary>
    public string? CName { get; } = cName;

    public long Size { get; } = size;

    public bool IsUnion { get; } = isUnion;

    public List<FieldModel> Fields { get; } = [];

    public List<(string Name, string Element, long Count)> InlineArrays { get; } = [];
}
