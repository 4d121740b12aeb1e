using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using PjSharp.Bindings.Generator.Clang;

namespace PjSharp.Bindings.Generator;

internal sealed record ConstantModel(string Name, string Type, string Literal);

public sealed unsafe partial class BindingGenerator
{
    private const string ConstantPrefix = "__pjsharp_c_";

    /// <summary>
    /// Evaluates the wanted object-like macros (and unnamed-enum constants) by declaring one
    /// variable per name after the headers and asking clang for each initializer's value.
    /// </summary>
    private SortedDictionary<string, ConstantModel> EvaluateConstants(nint index)
    {
        var candidates = _macros.Where(m => !m.Value.FunctionLike && InProjectHeaders(m.Value.File)).Select(m => m.Key)
            .Concat(_anonymousEnumConstants.Keys)
            .Concat(_settingNames)
            // Named exactly, a constant of a named enum is wanted as a plain int too (PJ_SUCCESS vs pj_status_t).
            .Concat(_enumConstantOwners.Keys.Where(_selection.IsExact))
            .Where(n => !n.StartsWith("__", StringComparison.Ordinal) && _selection.Wants(n, out _))
            .Distinct().Order(StringComparer.Ordinal).ToList();
        var values = new SortedDictionary<string, ConstantModel>(StringComparer.Ordinal);
        if (candidates.Count == 0)
            return values;
        var source = new StringBuilder(_selection.IncludeSource);
        // '+ 0' decays a string literal to a pointer, whose initializer clang then evaluates as a string.
        foreach (var name in candidates)
            source.Append(Invariant($"static const __typeof__(({name}) + 0) {ConstantPrefix}{name} = {name};\n"));
        var unit = Parse(index, source.ToString(), tolerateErrors: true);
        try
        {
            foreach (var cursor in LibClang.Children(LibClang.clang_getTranslationUnitCursor(unit)))
            {
                if (cursor.Kind != CursorKind.VarDecl)
                    continue;
                var name = LibClang.Spelling(cursor);
                if (!name.StartsWith(ConstantPrefix, StringComparison.Ordinal))
                    continue;
                var constant = Evaluate(cursor, name[ConstantPrefix.Length..]);
                if (constant != null)
                    values[constant.Name] = constant;
            }
        }
        finally
        {
            LibClang.clang_disposeTranslationUnit(unit);
        }
        foreach (var name in candidates.Where(n => _selection.IsExact(n) && !values.ContainsKey(n)))
        {
            var (file, line) = _selection.Origin(name);
            throw new GeneratorException($"{file}:{line}: '{name}' is not an integer or string constant.");
        }
        return values;
    }

    private static ConstantModel? Evaluate(CXCursor cursor, string name)
    {
        var result = LibClang.clang_Cursor_Evaluate(cursor);
        if (result == 0)
            return null;
        try
        {
            switch (LibClang.clang_EvalResult_getKind(result))
            {
                case 1: // CXEval_Int
                    if (LibClang.clang_EvalResult_isUnsignedInt(result) != 0)
                    {
                        var unsigned = LibClang.clang_EvalResult_getAsUnsigned(result);
                        var type = unsigned <= int.MaxValue ? "int" : unsigned <= uint.MaxValue ? "uint" : "ulong";
                        return new ConstantModel(name, type, unsigned.ToString(CultureInfo.InvariantCulture) + (type == "ulong" ? "UL" : ""));
                    }
                    var signed = LibClang.clang_EvalResult_getAsLongLong(result);
                    return signed is >= int.MinValue and <= int.MaxValue
                        ? new ConstantModel(name, "int", signed.ToString(CultureInfo.InvariantCulture))
                        : new ConstantModel(name, "long", signed.ToString(CultureInfo.InvariantCulture) + "L");
                case 4: // CXEval_StrLiteral
                    var text = Marshal.PtrToStringUTF8(LibClang.clang_EvalResult_getAsStr(result)) ?? "";
                    return new ConstantModel(name, "string", Quote(text));
                default:
                    return null;
            }
        }
        finally
        {
            LibClang.clang_EvalResult_dispose(result);
        }
    }

    private static string Quote(string text)
    {
        var quoted = new StringBuilder("\"");
        foreach (var c in text)
        {
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when c < ' ' || c > '~' => Invariant($"\\u{(int)c:X4}"),
                _ => c.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }

    private static string EmitConstants(string ns, SortedDictionary<string, ConstantModel> constants)
    {
        var text = Header(ns);
        text.Append("/// <summary>The requested #define constants (and unnamed-enum constants), as the headers evaluate them.</summary>\n");
        text.Append("public static partial class PjConstants\n{\n");
        foreach (var constant in constants.Values)
            text.Append(Invariant($"    public const {constant.Type} {constant.Name} = {constant.Literal};\n"));
        text.Append("}\n");
        return text.ToString();
    }
}
