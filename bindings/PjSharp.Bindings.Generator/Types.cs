using PjSharp.Bindings.Generator.Clang;

namespace PjSharp.Bindings.Generator;

public sealed unsafe partial class BindingGenerator
{
    private readonly HashSet<string> _queued = new(StringComparer.Ordinal);

    // Standard C typedefs whose width follows the pointer size: nint/nuint keep the C# code portable.
    private static readonly Dictionary<string, string> PointerSized = new(StringComparer.Ordinal)
    {
        ["size_t"] = "nuint", ["uintptr_t"] = "nuint", ["ssize_t"] = "nint", ["ptrdiff_t"] = "nint", ["intptr_t"] = "nint",
    };

    private string MapType(CXType type, bool byValue, bool parameter = false)
    {
        type = Desugar(type);
        var alias = PointerSizedAlias(type);
        if (alias != null)
            return alias;
        var canonical = LibClang.clang_getCanonicalType(type);
        switch (canonical.Kind)
        {
            case TypeKind.Pointer:
            {
                var pointee = Desugar(LibClang.clang_getPointeeType(type.Kind == TypeKind.Pointer ? type : canonical));
                var pointeeCanonical = LibClang.clang_getCanonicalType(pointee);
                if (pointeeCanonical.Kind == TypeKind.FunctionProto)
                    return FunctionPointer(pointeeCanonical);
                if (pointeeCanonical.Kind is TypeKind.FunctionNoProto or TypeKind.Void)
                    return "void*";
                if (pointeeCanonical.Kind == TypeKind.Record && IsUnnamed(LibClang.clang_getTypeDeclaration(pointeeCanonical))
                    && !_typedefForRecord.ContainsKey(LibClang.Usr(Definition(LibClang.clang_getTypeDeclaration(pointeeCanonical)))))
                    return "void*"; // a pointer to an unnamed, untypedef'd record has no name to use
                return MapType(pointee, byValue: false) + "*";
            }
            case TypeKind.ConstantArray or TypeKind.IncompleteArray when parameter:
                return MapType(LibClang.clang_getArrayElementType(canonical), byValue: false) + "*";
            case TypeKind.FunctionProto:
                return FunctionPointer(canonical);
            case TypeKind.Record:
                return RecordName(canonical, byValue);
            case TypeKind.Enum:
                return EnumName(canonical);
            default:
                return Primitive(canonical);
        }
    }

    private static CXType Desugar(CXType type)
    {
        while (type.Kind == TypeKind.Elaborated)
            type = LibClang.clang_Type_getNamedType(type);
        return type;
    }

    /// <summary>nint/nuint when a typedef chain goes through size_t and friends.</summary>
    private static string? PointerSizedAlias(CXType type)
    {
        for (var depth = 0; depth < 16 && type.Kind == TypeKind.Typedef; depth++)
        {
            var decl = LibClang.clang_getTypeDeclaration(type);
            if (PointerSized.TryGetValue(LibClang.Spelling(decl), out var alias))
                return alias;
            type = Desugar(LibClang.clang_getTypedefDeclUnderlyingType(decl));
        }
        return null;
    }

    private string FunctionPointer(CXType function)
    {
        var parts = new List<string>();
        var count = LibClang.clang_getNumArgTypes(function);
        for (uint i = 0; i < count; i++)
            parts.Add(MapType(LibClang.clang_getArgType(function, i), byValue: true, parameter: true));
        parts.Add(MapType(LibClang.clang_getResultType(function), byValue: true));
        if (LibClang.clang_isFunctionTypeVariadic(function) != 0)
            throw new GeneratorException("a pointer to a variadic function has no C# equivalent.");
        return $"delegate* unmanaged[Cdecl]<{string.Join(", ", parts)}>";
    }

    private static string Primitive(CXType canonical)
    {
        var size = LibClang.clang_Type_getSizeOf(canonical);
        return canonical.Kind switch
        {
            TypeKind.Void => "void",
            TypeKind.Bool or TypeKind.CharU or TypeKind.UChar or TypeKind.CharS => "byte",
            TypeKind.SChar => "sbyte",
            TypeKind.Short => "short",
            TypeKind.UShort or TypeKind.Char16 => "ushort",
            TypeKind.Int => "int",
            TypeKind.WChar => size == 2 ? "ushort" : "int",
            TypeKind.UInt or TypeKind.Char32 => "uint",
            TypeKind.Long => size == 8 ? "long" : "int",
            TypeKind.ULong => size == 8 ? "ulong" : "uint",
            TypeKind.LongLong => "long",
            TypeKind.ULongLong => "ulong",
            TypeKind.Float => "float",
            TypeKind.Double => "double",
            _ => throw new GeneratorException($"C type '{LibClang.Spelling(canonical)}' has no blittable C# equivalent."),
        };
    }

    private static bool IsSigned(CXType canonical) => canonical.Kind switch
    {
        TypeKind.CharS or TypeKind.SChar or TypeKind.Short or TypeKind.Int or TypeKind.Long or TypeKind.LongLong => true,
        TypeKind.WChar => true,
        TypeKind.Enum => IsSigned(LibClang.clang_getCanonicalType(LibClang.clang_getEnumDeclIntegerType(LibClang.clang_getTypeDeclaration(canonical)))),
        _ => false,
    };

    private static bool IsPrimitiveForFixed(string type) =>
        type is "byte" or "sbyte" or "short" or "ushort" or "int" or "uint" or "long" or "ulong" or "float" or "double";

    private string CsRecordName(CXCursor decl)
    {
        if (!IsUnnamed(decl))
            return LibClang.Spelling(decl);
        if (_typedefForRecord.TryGetValue(LibClang.Usr(decl), out var typedef))
            return typedef;
        var (file, line) = LibClang.Location(decl);
        throw new GeneratorException($"{file}:{line}: an unnamed struct is used outside a field; it has no name to use.");
    }

    private string RecordName(CXType canonical, bool byValue)
    {
        var decl = Definition(LibClang.clang_getTypeDeclaration(canonical));
        var name = CsRecordName(decl);
        _recordDecls.TryAdd(name, decl);
        if (byValue)
            EnsureRecord(name);
        else if (!_records.ContainsKey(name) && !_queued.Contains(name))
            _opaque.Add(name);
        return Escape(name);
    }

    private string EnumName(CXType canonical)
    {
        var decl = LibClang.clang_getTypeDeclaration(canonical);
        if (IsUnnamed(decl) && !_typedefForRecord.ContainsKey(LibClang.Usr(decl)))
            return Primitive(LibClang.clang_getCanonicalType(LibClang.clang_getEnumDeclIntegerType(decl)));
        var name = IsUnnamed(decl) ? _typedefForRecord[LibClang.Usr(decl)] : LibClang.Spelling(decl);
        _enumDecls.TryAdd(name, decl);
        _enumsUsed.Add(name);
        return Escape(name);
    }

    private void EnsureRecord(string name)
    {
        if (_records.ContainsKey(name) || !_queued.Add(name))
            return;
        _opaque.Remove(name);
        _pendingRecords.Enqueue(name);
    }

    private void BuildRecord(string name)
    {
        var decl = _recordDecls[name];
        var type = LibClang.clang_getCursorType(decl);
        var size = LibClang.clang_Type_getSizeOf(type);
        if (size < 0)
        {
            // Incomplete in C (opaque): usable only through pointers.
            _opaque.Add(name);
            return;
        }
        var keyword = decl.Kind == CursorKind.UnionDecl ? "union" : "struct";
        var cName = _typedefForRecord.TryGetValue(LibClang.Usr(decl), out var typedef) ? typedef : $"{keyword} {name}";
        var model = new RecordModel(name, cName, size, decl.Kind == CursorKind.UnionDecl);
        _records[name] = model;
        try
        {
            AddFields(model, decl, 0, ReservedNames(decl));
        }
        catch (GeneratorException error) when (!error.Message.StartsWith("struct ", StringComparison.Ordinal))
        {
            throw new GeneratorException($"struct '{name}': {error.Message}", error);
        }
    }

    /// <summary>Every C member name a record's C# body will hold (anonymous members flattened).</summary>
    private static HashSet<string> ReservedNames(CXCursor decl)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var child in LibClang.Children(decl))
        {
            if (child.Kind == CursorKind.FieldDecl && LibClang.Spelling(child) is { Length: > 0 } name)
                names.Add(name);
            else if (IsAnonymousMember(child))
                names.UnionWith(ReservedNames(Definition(child)));
        }
        return names;
    }

    /// <summary>A C11 anonymous struct/union member: its fields are spelled as the parent's own.</summary>
    private static bool IsAnonymousMember(CXCursor child) =>
        child.Kind is CursorKind.StructDecl or CursorKind.UnionDecl && LibClang.clang_Cursor_isAnonymousRecordDecl(child) != 0;

    private static string NestedName(RecordModel owner, HashSet<string> reserved, string wanted)
    {
        var name = wanted;
        while (name == owner.CsName || reserved.Contains(name) || owner.HasMember(name))
            name += "_";
        return name;
    }

    private RecordModel NestedRecord(RecordModel owner, HashSet<string> reserved, string name, CXCursor nestedDecl, CXType canonical)
    {
        var nested = new RecordModel(NestedName(owner, reserved, name), null, LibClang.clang_Type_getSizeOf(canonical), nestedDecl.Kind == CursorKind.UnionDecl);
        owner.NestedRecords.Add(nested);
        AddFields(nested, nestedDecl, 0, ReservedNames(nestedDecl));
        return nested;
    }

    private bool IsUntypedefedUnnamed(CXCursor decl) =>
        IsUnnamed(decl) && !_typedefForRecord.ContainsKey(LibClang.Usr(Definition(decl)));

    /// <param name="owner">Set for the fields of an anonymous member: their offsets are looked up by name in the
    /// record that holds them in C# (libclang reports them relative to the anonymous record itself).</param>
    private void AddFields(RecordModel model, CXCursor decl, long baseBits, HashSet<string> reserved, CXType? owner = null)
    {
        var ownerType = owner ?? LibClang.clang_getCursorType(decl);
        foreach (var field in LibClang.Children(decl))
        {
            if (IsAnonymousMember(field))
            {
                AddFields(model, Definition(field), baseBits, reserved, ownerType);
                continue;
            }
            if (field.Kind != CursorKind.FieldDecl)
                continue;
            var name = LibClang.Spelling(field);
            if (owner != null && name.Length == 0)
                continue; // unnamed padding bits inside an anonymous member
            var type = LibClang.clang_getCursorType(field);
            var bits = baseBits + (owner != null ? LibClang.clang_Type_getOffsetOf(ownerType, name) : LibClang.clang_Cursor_getOffsetOfField(field));
            if (bits < baseBits)
            {
                var (file, line) = LibClang.Location(field);
                throw new GeneratorException($"{file}:{line}: libclang gives no offset for '{model.CsName}.{name}'.");
            }
            var canonical = LibClang.clang_getCanonicalType(type);
            var csName = name == model.CsName ? name + "_" : Escape(name);
            if (LibClang.clang_Cursor_isBitField(field) != 0)
            {
                AddBitfield(model, field, name, csName, bits, canonical);
                continue;
            }
            if (canonical.Kind == TypeKind.Record && IsUntypedefedUnnamed(LibClang.clang_getTypeDeclaration(canonical)))
            {
                var nestedDecl = Definition(LibClang.clang_getTypeDeclaration(canonical));
                if (name.Length == 0)
                    continue; // the implicit field of an anonymous member, handled through its record above
                var nested = NestedRecord(model, reserved, name + "_t", nestedDecl, canonical);
                model.Fields.Add(new FieldModel(csName, bits / 8, nested.CsName, FieldKind.Nested) { CName = name, Nested = nested });
                continue;
            }
            if (canonical.Kind == TypeKind.ConstantArray)
            {
                AddArray(model, reserved, name, csName, bits, type);
                continue;
            }
            if (canonical.Kind == TypeKind.IncompleteArray)
                continue; // flexible array member: no storage of its own
            model.Fields.Add(new FieldModel(csName, bits / 8, MapType(type, byValue: true), FieldKind.Normal) { CName = name });
        }
    }

    private void AddArray(RecordModel model, HashSet<string> reserved, string name, string csName, long bits, CXType type)
    {
        // Walk down the dimensions keeping the element's sugar (typedef names such as size_t).
        var elementSugared = Desugar(type);
        long count = 1;
        while (LibClang.clang_getCanonicalType(elementSugared).Kind == TypeKind.ConstantArray)
        {
            if (elementSugared.Kind != TypeKind.ConstantArray)
                elementSugared = LibClang.clang_getCanonicalType(elementSugared);
            count *= LibClang.clang_getArraySize(elementSugared);
            elementSugared = Desugar(LibClang.clang_getArrayElementType(elementSugared));
        }
        var element = LibClang.clang_getCanonicalType(elementSugared);
        string elementType;
        var elementDecl = LibClang.clang_getTypeDeclaration(element);
        if (element.Kind == TypeKind.Record && IsUntypedefedUnnamed(elementDecl))
            elementType = NestedRecord(model, reserved, name + "_t", Definition(elementDecl), element).CsName;
        else
            elementType = MapType(elementSugared, byValue: true);
        if (IsPrimitiveForFixed(elementType) && element.Kind != TypeKind.Enum)
        {
            model.Fields.Add(new FieldModel(csName, bits / 8, elementType, FieldKind.FixedBuffer) { CName = name, Count = count });
            return;
        }
        if (count == 0)
            return; // zero-length array (GNU flexible member): no storage
        // Pointers cannot be generic arguments, so an inline array of pointers holds nint.
        if (elementType.EndsWith('*') || elementType.StartsWith("delegate*", StringComparison.Ordinal))
            elementType = "nint";
        var arrayName = NestedName(model, reserved, name + "_e__FixedBuffer");
        model.InlineArrays.Add(new InlineArrayModel(arrayName, elementType, count));
        model.Fields.Add(new FieldModel(csName, bits / 8, arrayName, FieldKind.InlineArray) { CName = name, Count = count });
    }

    private static void AddBitfield(RecordModel model, CXCursor field, string name, string csName, long bits, CXType canonical)
    {
        var width = LibClang.clang_getFieldDeclBitWidth(field);
        if (width == 0)
            return; // unnamed ':0' only aligns the next field
        var unit = LibClang.clang_Type_getSizeOf(canonical);
        var storage = bits / (unit * 8) * unit;
        var shift = (int)(bits - storage * 8);
        var valueType = canonical.Kind == TypeKind.Enum
            ? Primitive(LibClang.clang_getCanonicalType(LibClang.clang_getEnumDeclIntegerType(LibClang.clang_getTypeDeclaration(canonical))))
            : Primitive(canonical);
        if (shift + width > unit * 8 || storage + unit > model.Size || unit is not (1 or 2 or 4 or 8))
        {
            var (file, line) = LibClang.Location(field);
            throw new GeneratorException($"{file}:{line}: bitfield '{model.CsName}.{name}' does not sit inside one aligned {valueType}; it cannot be mapped.");
        }
        if (name.Length == 0)
            return; // unnamed padding bits
        // One unsigned storage field per unit; each property reads and writes its own bits of it.
        var storageType = unit switch { 1 => "byte", 2 => "ushort", 4 => "uint", _ => "ulong" };
        model.Fields.Add(new FieldModel(csName, storage, valueType, FieldKind.Bitfield)
        {
            CName = name, Shift = shift, Width = width, Signed = IsSigned(canonical), StorageType = storageType,
        });
    }
}
