using System.Globalization;
using System.Text;
using PjSharp.Bindings.Generator.Clang;

namespace PjSharp.Bindings.Generator;

public sealed unsafe partial class BindingGenerator
{
    private string EmitStructs(string ns)
    {
        var text = Header(ns, "using System.Runtime.CompilerServices;", "using System.Runtime.InteropServices;");
        foreach (var model in _records.Values.OrderBy(r => r.CsName, StringComparer.Ordinal))
        {
            EmitRecord(text, model, "");
            text.Append('\n');
        }
        foreach (var name in _opaque.Where(n => !_records.ContainsKey(n)))
            text.Append(Invariant($"/// <summary>Opaque here: used only through pointers.</summary>\npublic partial struct {Escape(name)}\n{{\n}}\n\n"));
        return text.ToString().TrimEnd('\n') + "\n";
    }

    private static void EmitRecord(StringBuilder text, RecordModel model, string indent)
    {
        var kind = model.IsUnion ? "union" : "struct";
        if (model.CName != null)
            text.Append(Invariant($"{indent}/// <summary><c>{model.CName}</c>: {model.Size} bytes, offsets from libclang.</summary>\n"));
        else
            text.Append(Invariant($"{indent}/// <summary>The unnamed {kind} of this member.</summary>\n"));
        text.Append(Invariant($"{indent}[StructLayout(LayoutKind.Explicit, Size = {model.Size})]\n"));
        text.Append(Invariant($"{indent}public unsafe partial struct {Escape(model.CsName)}\n{indent}{{\n"));
        var inner = indent + "    ";
        var storages = new Dictionary<(long Offset, string Type), string>();
        foreach (var field in model.Fields)
        {
            switch (field.Kind)
            {
                case FieldKind.FixedBuffer:
                    text.Append(Invariant($"{inner}[FieldOffset({field.Offset})] public fixed {field.Type} {field.Name}[{field.Count}];\n"));
                    break;
                case FieldKind.Bitfield:
                    EmitBitfield(text, inner, field, storages);
                    break;
                default:
                    text.Append(Invariant($"{inner}[FieldOffset({field.Offset})] public {field.Type} {field.Name};\n"));
                    break;
            }
        }
        foreach (var nested in model.NestedRecords)
        {
            text.Append('\n');
            EmitRecord(text, nested, inner);
        }
        foreach (var array in model.InlineArrays)
        {
            text.Append('\n');
            text.Append(Invariant($"{inner}[InlineArray({array.Count})]\n{inner}public struct {array.Name}\n{inner}{{\n"));
            text.Append(Invariant($"{inner}    private {array.Element} _element0;\n{inner}}}\n"));
        }
        text.Append(indent).Append("}\n");
    }

    private static void EmitBitfield(StringBuilder text, string indent, FieldModel field, Dictionary<(long, string), string> storages)
    {
        var st = field.StorageType;
        if (!storages.TryGetValue((field.Offset, st), out var storage))
        {
            storage = storages.Values.Any(s => s == $"_bitfield{field.Offset}") ? $"_bitfield{field.Offset}_{st}" : $"_bitfield{field.Offset}";
            storages[(field.Offset, st)] = storage;
            text.Append(Invariant($"{indent}[FieldOffset({field.Offset})] private {st} {storage};\n"));
        }
        var mask = field.Width >= 64 ? ulong.MaxValue : (1UL << field.Width) - 1;
        var t = field.Type;
        // Signed fields sign-extend from their top bit, as C reads them.
        var getter = field.Signed
            ? Invariant($"unchecked(({t})((long)((ulong){storage} << {64 - field.Shift - field.Width}) >> {64 - field.Width}))")
            : Invariant($"unchecked(({t})(((ulong){storage} >> {field.Shift}) & 0x{mask:X}UL))");
        text.Append(Invariant($"{indent}/// <summary>Bitfield <c>{field.CName}</c>: {field.Width} bit(s) from bit {field.Shift} of the {st} at offset {field.Offset}.</summary>\n"));
        text.Append(Invariant($"{indent}public {t} {field.Name}\n{indent}{{\n"));
        text.Append(Invariant($"{indent}    readonly get => {getter};\n"));
        text.Append(Invariant($"{indent}    set => {storage} = unchecked(({st})(((ulong){storage} & ~(0x{mask:X}UL << {field.Shift})) | (((ulong)value & 0x{mask:X}UL) << {field.Shift})));\n"));
        text.Append(Invariant($"{indent}}}\n"));
    }

    private string EmitEnums(string ns)
    {
        var text = Header(ns);
        foreach (var name in _enumsUsed)
        {
            var decl = _enumDecls[name];
            var integer = LibClang.clang_getCanonicalType(LibClang.clang_getEnumDeclIntegerType(decl));
            var underlying = Primitive(integer);
            var signed = IsSigned(integer);
            text.Append(Invariant($"public enum {Escape(name)} : {underlying}\n{{\n"));
            foreach (var constant in LibClang.Children(decl).Where(c => c.Kind == CursorKind.EnumConstantDecl))
            {
                var member = LibClang.Spelling(constant);
                var value = signed
                    ? LibClang.clang_getEnumConstantDeclValue(constant).ToString(CultureInfo.InvariantCulture)
                    : LibClang.clang_getEnumConstantDeclUnsignedValue(constant).ToString(CultureInfo.InvariantCulture);
                text.Append(Invariant($"    {(member == name ? member + "_" : Escape(member))} = {value},\n"));
            }
            text.Append("}\n\n");
        }
        return text.ToString().TrimEnd('\n') + "\n";
    }
}
