using System.Text;
using PjSharp.Bindings.Generator.Clang;

namespace PjSharp.Bindings.Generator;

public sealed unsafe partial class BindingGenerator
{
    private readonly HashSet<string> _queued = new(StringComparer.Ordinal);

    private string MapType(CXType type, bool byValue, bool parameter = false)
    {
        while (type.Kind == TypeKind.Elaborated)
            type = LibClang.clang_Type_getNamedType(type);
        var canonical = LibClang.clang_getCanonicalType(type);
        switch (canonical.Kind)
        {
            case TypeKind.Pointer:
            {
                var pointee = LibClang.clang_getPointeeType(canonical);
                var pointeeCanonical = LibClang.clang_getCanonicalType(pointee);
                if (pointeeCanonical.Kind == TypeKind.FunctionProto)
                    return FunctionPointer(pointeeCanonical);
                if (pointeeCanonical.Kind is TypeKind.FunctionNoProto or TypeKind.Void)
                    return "void*";
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

    private string FunctionPointer(CXType function)
    {
        var parts = new List<string>();
        var count = LibClang.clang_getNumArgTypes(function);
        for (uint i = 0; i < count; i++)
            parts.Add(MapType(LibClang.clang_getArgType(function, i), byValue: true, parameter: true));
        parts.Add(MapType(LibClang.clang_getResultType(function), byValue: true));
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
            TypeKind.Int or TypeKind.WChar when size == 4 => "int",
            TypeKind.UInt or TypeKind.Char32 => "uint",
            TypeKind.Long => size == 8 ? "long" : "int",
            TypeKind.ULong => size == 8 ? "ulong" : "uint",
            TypeKind.LongLong => "long",
            TypeKind.ULongLong => "ulong",
            TypeKind.Float => "float",
            TypeKind.Double => "double",
            _ => throw new GeneratorException($"C type '{LibClang.Spelling(canonical)}' (kind {canonical.Kind}) has no blittable C# equivalent."),
        };
    }

    private static bool IsPrimitiveForFixed(string type) =>
        type is "byte" or "sbyte" or "short" or "ushort" or "int" or "uint" or "long" or "ulong" or "float" or "double";

    private string CsRecordName(CXCursor decl)
    {
        if (!IsUnnamed(decl))
            return LibClang.Spelling(decl);
        if (_typedefForRecord.TryGetValue(LibClang.Usr(decl), out var typedef))
            return typedef;
        var (file, line) = LibClang.Location(decl);
        throw new GeneratorException($"{file}:{line}: an unnamed struct is used outside a field; it cannot be named.");
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
        return name;
    }

    private string EnumName(CXType canonical)
    {
        var decl = LibClang.clang_getTypeDeclaration(canonical);
        var name = IsUnnamed(decl) && _typedefForRecord.TryGetValue(LibClang.Usr(decl), out var typedef) ? typedef : LibClang.Spelling(decl);
        if (IsUnnamed(decl) && name == LibClang.Spelling(decl))
            return Primitive(LibClang.clang_getEnumDeclIntegerType(decl));
        _enumDecls.TryAdd(name, decl);
        _enumsUsed.Add(name);
        return name;
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
            AddFields(model, decl, 0);
        }
        catch (GeneratorException error) when (!error.Message.StartsWith("struct ", StringComparison.Ordinal))
        {
            throw new GeneratorException($"struct '{name}': {error.Message}", error);
        }
    }

    private void AddFields(RecordModel model, CXCursor decl, long baseBits)
    {
        foreach (var field in LibClang.Children(decl).Where(c => c.Kind == CursorKind.FieldDecl))
        {
            var name = LibClang.Spelling(field);
            var type = LibClang.clang_getCursorType(field);
            var bits = baseBits + LibClang.clang_Cursor_getOffsetOfField(field);
            var canonical = LibClang.clang_getCanonicalType(type);
            var csName = name == model.CsName ? name + "_" : Escape(name);
            if (LibClang.clang_Cursor_isBitField(field) != 0)
            {
                var width = LibClang.clang_getFieldDeclBitWidth(field);
                var unit = LibClang.clang_Type_getSizeOf(canonical);
                var storage = bits / (unit * 8) * unit;
                var shift = (int)(bits - storage * 8);
                if (shift + width > unit * 8)
                {
                    var (file, line) = LibClang.Location(field);
                    throw new GeneratorException($"{file}:{line}: bitfield '{model.CsName}.{name}' straddles its storage unit; it cannot be mapped.");
                }
                var storageType = canonical.Kind == TypeKind.Enum ? Primitive(LibClang.clang_getEnumDeclIntegerType(LibClang.clang_getTypeDeclaration(canonical))) : Primitive(canonical);
                model.Fields.Add(new FieldModel(csName, storage, storageType, FieldKind.Bitfield) { Shift = shift, Width = width });
                continue;
            }
            if (canonical.Kind == TypeKind.Record && IsUnnamed(LibClang.clang_getTypeDeclaration(canonical)))
            {
                var nestedDecl = Definition(LibClang.clang_getTypeDeclaration(canonical));
                if (name.Length == 0)
                {
                    AddFields(model, nestedDecl, bits);
                    continue;
                }
                if (!_typedefForRecord.ContainsKey(LibClang.Usr(nestedDecl)))
                {
                    var nested = new RecordModel($"{model.CsName}_{name}", null, LibClang.clang_Type_getSizeOf(canonical), nestedDecl.Kind == CursorKind.UnionDecl);
                    _records[nested.CsName] = nested;
                    AddFields(nested, nestedDecl, 0);
                    model.Fields.Add(new FieldModel(csName, bits / 8, nested.CsName, FieldKind.Nested) { Nested = nested });
                    continue;
                }
            }
            if (canonical.Kind == TypeKind.ConstantArray)
            {
                var element = canonical;
                long count = 1;
                while (element.Kind == TypeKind.ConstantArray)
                {
                    count *= LibClang.clang_getArraySize(element);
                    element = LibClang.clang_getCanonicalType(LibClang.clang_getArrayElementType(element));
                }
                string elementType;
                var elementDecl = LibClang.clang_getTypeDeclaration(element);
                if (element.Kind == TypeKind.Record && IsUnnamed(elementDecl) && !_typedefForRecord.ContainsKey(LibClang.Usr(Definition(elementDecl))))
                {
                    var nested = new RecordModel($"{model.CsName}_{name}_t", null, LibClang.clang_Type_getSizeOf(element), elementDecl.Kind == CursorKind.UnionDecl);
                    _records[nested.CsName] = nested;
                    AddFields(nested, Definition(elementDecl), 0);
                    elementType = nested.CsName;
                }
                else
                {
                    elementType = MapType(element, byValue: true);
                }
                if (IsPrimitiveForFixed(elementType) && element.Kind != TypeKind.Enum)
                {
                    model.Fields.Add(new FieldModel(csName, bits / 8, elementType, FieldKind.FixedBuffer) { Count = count });
                }
                else
                {
                    var arrayType = $"{model.CsName}_{name}_e__FixedBuffer";
                    if (elementType.EndsWith('*') || elementType.StartsWith("delegate*", StringComparison.Ordinal))
                        elementType = "nint";
                    model.InlineArrays.Add((arrayType, elementType, count));
                    model.Fields.Add(new FieldModel(csName, bits / 8, arrayType, FieldKind.InlineArray) { Count = count });
                }
                continue;
            }
            if (canonical.Kind == TypeKind.IncompleteArray)
                continue; // flexible array member: no storage of its own
            model.Fields.Add(new FieldModel(csName, bits / 8, MapType(type, byValue: true), FieldKind.Normal));
        }
    }

    private string EmitStructs(string ns)
    {
        var text = Header(ns, "using System.Runtime.CompilerServices;", "using System.Runtime.InteropServices;");
        foreach (var model in _records.Values.OrderBy(r => r.CsName, StringComparer.Ordinal))
        {
            text.Append(BindingGenerator.Invariant($"[StructLayout(LayoutKind.Explicit, Size = {model.Size})]\n"));
            text.Append(BindingGenerator.Invariant($"public unsafe partial struct {model.CsName}\n{{\n"));
            var storages = new HashSet<long>();
            foreach (var field in model.Fields)
            {
                switch (field.Kind)
                {
                    case FieldKind.FixedBuffer:
                        text.Append(BindingGenerator.Invariant($"    [FieldOffset({field.Offset})] public fixed {field.Type} {field.Name}[{field.Count}];\n"));
                        break;
                    case FieldKind.Bitfield:
                    {
                        var storage = $"_bitfield{field.Offset}";
                        if (storages.Add(field.Offset))
                            text.Append(BindingGenerator.Invariant($"    [FieldOffset({field.Offset})] private {field.Type} {storage};\n"));
                        var mask = field.Width >= 64 ? ulong.MaxValue : (1UL << field.Width) - 1;
                        text.Append(BindingGenerator.Invariant(
                            $"    public {field.Type} {field.Name}\n    {{\n        readonly get => unchecked(({field.Type})(((ulong){storage} >> {field.Shift}) & 0x{mask:X}UL));\n"));
                        text.Append(BindingGenerator.Invariant(
                            $"        set => {storage} = unchecked(({field.Type})(((ulong){storage} & ~(0x{mask:X}UL << {field.Shift})) | (((ulong)value & 0x{mask:X}UL) << {field.Shift})));\n    }}\n"));
                        break;
                    }
                    default:
                        text.Append(BindingGenerator.Invariant($"    [FieldOffset({field.Offset})] public {field.Type} {field.Name};\n"));
                        break;
                }
            }
            text.Append("}\n\n");
            foreach (var (name, element, count) in model.InlineArrays)
            {
                text.Append(BindingGenerator.Invariant($"[InlineArray({count})]\npublic unsafe struct {name}\n{{\n    private {element} _element0;\n}}\n\n"));
            }
        }
        foreach (var name in _opaque.Where(n => !_records.ContainsKey(n)))
            text.Append(BindingGenerator.Invariant($"/// <summary>Opaque here: used only through pointers.</summary>\npublic partial struct {name}\n{{\n}}\n\n"));
        return text.ToString().TrimEnd('\n') + "\n";
    }

    private string EmitEnums(string ns)
    {
        var text = Header(ns);
        foreach (var name in _enumsUsed)
        {
            var decl = _enumDecls[name];
            var underlying = Primitive(LibClang.clang_getCanonicalType(LibClang.clang_getEnumDeclIntegerType(decl)));
            var unsigned = underlying.StartsWith('u') || underlying == "byte";
            text.Append(BindingGenerator.Invariant($"public enum {name} : {underlying}\n{{\n"));
            foreach (var constant in LibClang.Children(decl).Where(c => c.Kind == CursorKind.EnumConstantDecl))
            {
                var value = unsigned
                    ? LibClang.clang_getEnumConstantDeclUnsignedValue(constant).ToString(System.Globalization.CultureInfo.InvariantCulture)
                    : LibClang.clang_getEnumConstantDeclValue(constant).ToString(System.Globalization.CultureInfo.InvariantCulture);
                text.Append(BindingGenerator.Invariant($"    {LibClang.Spelling(constant)} = unchecked(({underlying})({value})),\n"));
            }
            text.Append("}\n\n");
        }
        return text.ToString().TrimEnd('\n') + "\n";
    }

    // ---- constants ----

    private SortedDictionary<string, long> EvaluateConstants(nint index)
    {
        var candidates = _macros.Where(m => !m.Value.FunctionLike && InProjectHeaders(m.Value.File)).Select(m => m.Key)
            .Concat(_anonymousEnumConstants.Keys)
            .Concat(_settingNames)
            .Where(n => !n.StartsWith("__", StringComparison.Ordinal) && _selection.Wants(n, out _))
            .Distinct().OrderBy(n => n, StringComparer.Ordinal).ToList();
        var values = new SortedDictionary<string, long>(StringComparer.Ordinal);
        if (candidates.Count == 0)
            return values;
        var source = new StringBuilder(_selection.IncludeSource);
        foreach (var name in candidates)
            source.Append(BindingGenerator.Invariant($"static const long long __pjsharp_c_{name} = (long long)({name});\n"));
        var unit = Parse(index, source.ToString(), tolerateErrors: true);
        try
        {
            foreach (var cursor in LibClang.Children(LibClang.clang_getTranslationUnitCursor(unit)))
            {
                if (cursor.Kind != CursorKind.VarDecl)
                    continue;
                var name = LibClang.Spelling(cursor);
                if (!name.StartsWith("__pjsharp_c_", StringComparison.Ordinal))
                    continue;
                var result = LibClang.clang_Cursor_Evaluate(cursor);
                if (result == 0)
                    continue;
                try
                {
                    if (LibClang.clang_EvalResult_getKind(result) == 1 /* CXEval_Int */)
                        values[name["__pjsharp_c_".Length..]] = LibClang.clang_EvalResult_getAsLongLong(result);
                }
                finally
                {
                    LibClang.clang_EvalResult_dispose(result);
                }
            }
        }
        finally
        {
            LibClang.clang_disposeTranslationUnit(unit);
        }
        foreach (var name in candidates.Where(n => _selection.IsExact(n) && !values.ContainsKey(n)))
        {
            var (file, line) = _selection.Origin(name);
            throw new GeneratorException($"{file}:{line}: '{name}' is not an integer constant.");
        }
        return values;
    }

    private static string EmitConstants(string ns, SortedDictionary<string, long> constants)
    {
        var text = Header(ns);
        text.Append("public static class PjConstants\n{\n");
        foreach (var (name, value) in constants)
        {
            var type = value is >= int.MinValue and <= int.MaxValue ? "int" : "long";
            text.Append(BindingGenerator.Invariant($"    public const {type} {name} = {value};\n"));
        }
        text.Append("}\n");
        return text.ToString();
    }

    // ---- layout ----

    private List<(string Type, string Member, bool Fixed)> LayoutEntries()
    {
        var entries = new List<(string, string, bool)>();
        foreach (var model in _records.Values.Where(r => r.CName != null).OrderBy(r => r.CsName, StringComparer.Ordinal))
        {
            entries.Add((model.CsName, "", false));
            AddLayoutPaths(model, model.CsName, "", entries);
        }
        return entries;
    }

    private static void AddLayoutPaths(RecordModel model, string top, string prefix, List<(string, string, bool)> entries)
    {
        foreach (var field in model.Fields)
        {
            if (field.Kind == FieldKind.Bitfield)
                continue;
            var path = prefix + field.Name.TrimStart('@');
            entries.Add((top, path, field.Kind == FieldKind.FixedBuffer));
            if (field.Kind == FieldKind.Nested)
                AddLayoutPaths(field.Nested!, top, path + ".", entries);
        }
    }

    private static string EmitManagedLayout(string ns, List<(string Type, string Member, bool Fixed)> entries)
    {
        var text = Header(ns, "using System.Runtime.InteropServices;");
        text.Append("/// <summary>Sizes and field offsets of the generated structs as C# lays them out (compare with pjsharp_layout_get).</summary>\n");
        text.Append("public static unsafe class GeneratedLayout\n{\n");
        text.Append("    public static IReadOnlyList<(string Type, string Member, long Value)> Entries { get; } = Build();\n\n");
        var groups = entries.GroupBy(e => e.Type).ToList();
        text.Append("    private static List<(string Type, string Member, long Value)> Build()\n    {\n        var entries = new List<(string, string, long)>();\n");
        foreach (var group in groups)
            text.Append(BindingGenerator.Invariant($"        Add_{group.Key}(entries);\n"));
        text.Append("        return entries;\n    }\n");
        foreach (var group in groups)
        {
            var type = group.Key;
            text.Append(BindingGenerator.Invariant($"\n    private static void Add_{type}(List<(string, string, long)> entries)\n    {{\n"));
            text.Append(BindingGenerator.Invariant($"        var p = ({type}*)NativeMemory.AllocZeroed((nuint)sizeof({type}));\n        try\n        {{\n"));
            foreach (var (_, member, isFixed) in group)
            {
                var csMember = string.Join(".", member.Split('.').Select(Escape));
                var value = member.Length == 0 ? $"sizeof({type})"
                    : isFixed ? $"(long)((byte*)p->{csMember} - (byte*)p)"
                    : $"(long)((byte*)&p->{csMember} - (byte*)p)";
                text.Append(BindingGenerator.Invariant($"            entries.Add((\"{type}\", \"{member}\", {value}));\n"));
            }
            text.Append("        }\n        finally\n        {\n            NativeMemory.Free(p);\n        }\n    }\n");
        }
        text.Append("}\n");
        return text.ToString();
    }

    private string EmitNativeLayout(List<(string Type, string Member, bool Fixed)> entries)
    {
        var text = new StringBuilder("/* Generated by PjSharp.Bindings.Generator; do not edit. */\n#include <stddef.h>\n");
        foreach (var include in _selection.IncludeLines)
            text.Append(include).Append('\n');
        text.Append("""

            #if defined(_WIN32)
            #  define PJSHARP_EXPORT __declspec(dllexport)
            #else
            #  define PJSHARP_EXPORT __attribute__((visibility("default")))
            #endif

            typedef struct pjsharp_layout_entry { const char *type; const char *member; size_t value; } pjsharp_layout_entry;

            static const pjsharp_layout_entry layout_table[] = {

            """);
        foreach (var (type, member, _) in entries)
        {
            var cName = _records[type].CName!;
            var value = member.Length == 0 ? $"sizeof({cName})" : $"offsetof({cName}, {member})";
            text.Append(BindingGenerator.Invariant($"    {{ \"{type}\", \"{member}\", {value} }},\n"));
        }
        text.Append("""
            };

            PJSHARP_EXPORT int pjsharp_layout_count(void)
            {
                return (int)(sizeof(layout_table) / sizeof(layout_table[0]));
            }

            PJSHARP_EXPORT const pjsharp_layout_entry *pjsharp_layout_get(int index)
            {
                return index >= 0 && index < pjsharp_layout_count() ? &layout_table[index] : NULL;
            }

            """);
        return text.ToString();
    }
}
