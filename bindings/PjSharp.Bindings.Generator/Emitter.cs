using System.Text;
using PjSharp.Bindings.Generator.Clang;

namespace PjSharp.Bindings.Generator;

public sealed unsafe partial class BindingGenerator
{
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock", "long",
        "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected", "public",
        "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string", "struct",
        "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort", "using",
        "virtual", "void", "volatile", "while",
    };

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial System.Text.RegularExpressions.Regex IdentifierPattern();

    private static string Escape(string name) => Keywords.Contains(name) ? "@" + name : name;

    private GenerationResult Emit(nint index)
    {
        var functions = SelectFunctions();
        foreach (var (name, decl) in _recordDecls.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            if (_selection.Wants(name, out _))
                EnsureRecord(name);
        }
        foreach (var name in _opaqueTypedefs.Order(StringComparer.Ordinal))
        {
            if (_selection.Wants(name, out _))
                _opaque.Add(name);
        }
        foreach (var (alias, target) in _typeAliases.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            if (_selection.Wants(alias, out _))
            {
                if (_recordDecls.ContainsKey(target))
                    EnsureRecord(target);
                else if (_enumDecls.ContainsKey(target))
                    _enumsUsed.Add(target);
            }
        }
        foreach (var (name, _) in _enumDecls.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (_selection.Wants(name, out _))
                _enumsUsed.Add(name);
        }
        // A wanted constant of a named enum comes with its enum.
        foreach (var (constant, owner) in _enumConstantOwners.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (_selection.Wants(constant, out _))
                _enumsUsed.Add(owner);
        }
        // Other typedefs (integers, function pointers) are expanded where used: nothing to emit.
        foreach (var name in _otherTypedefs.Order(StringComparer.Ordinal))
            _ = _selection.Wants(name, out _);
        var handles = ReadHandles();
        foreach (var handle in handles)
        {
            if (!functions.Any(f => LibClang.Spelling(f) == handle.Release))
            {
                if (!_functions.TryGetValue(handle.Release, out var release))
                    throw new GeneratorException($"{_options.HandlesFile}:{handle.Line}: release function '{handle.Release}' is not declared in the headers.");
                functions.Add(release);
            }
        }
        var signatures = functions.Select(f =>
        {
            try
            {
                return (Cursor: f, Signature: FunctionSignature(f));
            }
            catch (GeneratorException error)
            {
                throw new GeneratorException($"function '{LibClang.Spelling(f)}': {error.Message}", error);
            }
        }).ToList();
        while (_pendingRecords.Count > 0)
        {
            var name = _pendingRecords.Dequeue();
            if (!_records.ContainsKey(name))
                BuildRecord(name);
        }
        var constants = EvaluateConstants(index);
        foreach (var (name, file, line) in _selection.UnmatchedExact())
            _errors.Add((file, line, $"{file}:{line}: '{name}' {WhyUnmatched(name)}."));
        if (_errors.Count > 0)
            throw new GeneratorException(string.Join("\n", _errors.OrderBy(e => e.File, StringComparer.Ordinal).ThenBy(e => e.Line).Select(e => e.Message)));

        var written = new List<string>();
        var ns = _options.Namespace;
        WriteIfChanged(Path.Combine(_options.OutputCs, "Structs.g.cs"), EmitStructs(ns), written);
        WriteIfChanged(Path.Combine(_options.OutputCs, "Enums.g.cs"), EmitEnums(ns), written);
        WriteIfChanged(Path.Combine(_options.OutputCs, "PjConstants.g.cs"), EmitConstants(ns, constants), written);
        foreach (var group in signatures.GroupBy(s => HeaderClass(LibClang.Location(s.Cursor).File)).OrderBy(g => g.Key, StringComparer.Ordinal))
            WriteIfChanged(Path.Combine(_options.OutputCs, group.Key + ".g.cs"), EmitFunctions(ns, group.Key, group.Select(g => g.Signature)), written);
        WriteIfChanged(Path.Combine(_options.OutputCs, "SafeHandles.g.cs"), EmitHandles(ns, handles, signatures), written);
        var layout = LayoutEntries();
        WriteIfChanged(Path.Combine(_options.OutputCs, "GeneratedLayout.g.cs"), EmitManagedLayout(ns, layout), written);
        WriteIfChanged(Path.Combine(_options.OutputNative, "pjsharp_layout.g.c"), EmitNativeLayout(layout), written);
        WriteIfChanged(Path.Combine(_options.OutputNative, "pjsharp_exports.g.txt"),
            string.Concat(signatures.Select(s => s.Signature.Name).Distinct().Order(StringComparer.Ordinal).Select(n => n + "\n")), written);
        // Files of an earlier run that this one did not write (a header lost all its functions).
        foreach (var stale in Directory.GetFiles(_options.OutputCs, "*.g.cs").Where(f => !written.Contains(Path.GetFullPath(f))))
            File.Delete(stale);
        File.WriteAllText(Path.Combine(_options.OutputCs, ".complete"), "");
        return new GenerationResult(_records.Values.Count(r => r.CName != null), _enumsUsed.Count, signatures.Count, constants.Count, handles.Count, written);
    }

    private readonly List<(string File, int Line, string Message)> _errors = [];

    private string WhyUnmatched(string name)
    {
        if (_macros.TryGetValue(name, out var macro) && macro.FunctionLike)
            return "is a function-like macro: P/Invoke cannot call it (add a pjsharp_* shim in native/src)";
        if (_macros.ContainsKey(name))
            return "is a macro that is not an integer or string constant";
        return "is not declared in the headers";
    }

    // ---- functions ----

    private sealed record Signature(string Name, string Return, IReadOnlyList<(string Type, string Name)> Parameters);

    private List<CXCursor> SelectFunctions()
    {
        var selected = new List<CXCursor>();
        foreach (var (name, cursor) in _functions.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            if (!_selection.Wants(name, out var exact))
                continue;
            var type = LibClang.clang_getCursorType(cursor);
            string? reason = null;
            if (LibClang.clang_Cursor_getStorageClass(cursor) == 3 /* static */ || LibClang.clang_Cursor_isFunctionInlined(cursor) != 0)
                reason = "it is static or inline (no symbol to import)";
            else if (type.Kind != TypeKind.FunctionProto)
                reason = "it has no prototype";
            else if (LibClang.clang_isFunctionTypeVariadic(type) != 0)
                reason = "it is variadic (P/Invoke cannot call it; add a pjsharp_* shim)";
            if (reason != null)
            {
                if (exact)
                {
                    var (file, line) = _selection.Origin(name);
                    _errors.Add((file, line, $"{file}:{line}: '{name}' cannot be bound: {reason}."));
                }
                continue;
            }
            selected.Add(cursor);
        }
        return selected;
    }

    private Signature FunctionSignature(CXCursor cursor)
    {
        var type = LibClang.clang_getCursorType(cursor);
        var result = MapType(LibClang.clang_getResultType(type), byValue: true);
        var parameters = new List<(string, string)>();
        var count = LibClang.clang_Cursor_getNumArguments(cursor);
        for (uint i = 0; i < count; i++)
        {
            var argument = LibClang.clang_Cursor_getArgument(cursor, i);
            var name = LibClang.Spelling(argument);
            parameters.Add((MapType(LibClang.clang_getCursorType(argument), byValue: true, parameter: true), Escape(name.Length == 0 ? $"arg{i}" : name)));
        }
        return new Signature(LibClang.Spelling(cursor), result, parameters);
    }

    private string HeaderClass(string file)
    {
        var header = HeaderOf(file);
        var builder = new StringBuilder();
        foreach (var part in header[..^(Path.GetExtension(header).Length)].Split('/', '_', '-', '.'))
        {
            if (part.Length > 0)
                builder.Append(char.ToUpperInvariant(part[0])).Append(part[1..]);
        }
        return builder.ToString();
    }

    private string EmitFunctions(string ns, string className, IEnumerable<Signature> signatures)
    {
        var text = Header(ns, "using System.Runtime.CompilerServices;", "using System.Runtime.InteropServices;");
        text.Append(Invariant($"public static unsafe partial class {className}\n{{\n"));
        var first = true;
        foreach (var signature in signatures.OrderBy(s => s.Name, StringComparer.Ordinal))
        {
            if (!first)
                text.Append('\n');
            first = false;
            text.Append(Invariant($"    [LibraryImport(\"{_options.LibraryName}\")]\n"));
            text.Append("    [UnmanagedCallConv(CallConvs = new[] { typeof(CallConvCdecl) })]\n");
            var parameters = string.Join(", ", signature.Parameters.Select(p => $"{p.Type} {p.Name}"));
            text.Append(Invariant($"    public static partial {signature.Return} {signature.Name}({parameters});\n"));
        }
        text.Append("}\n");
        return text.ToString();
    }

    // ---- handles ----

    private sealed record HandleModel(string NativeType, string Release, string ClassName, int Line);

    private List<HandleModel> ReadHandles()
    {
        var handles = new List<HandleModel>();
        if (_options.HandlesFile == null)
            return handles;
        var lineNumber = 0;
        foreach (var raw in File.ReadAllLines(_options.HandlesFile))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal))
                continue;
            var parts = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            var where = $"{_options.HandlesFile}:{lineNumber}";
            if (parts.Length != 3)
                throw new GeneratorException($"{where}: expected '<native type> <release function> <ClassName>'.");
            var (nativeType, releaseName, className) = (parts[0], parts[1], parts[2]);
            if (!IdentifierPattern().IsMatch(className) || Keywords.Contains(className))
                throw new GeneratorException($"{where}: '{className}' is not a C# class name.");
            if (handles.Any(h => h.ClassName == className))
                throw new GeneratorException($"{where}: class '{className}' is already declared on line {handles.First(h => h.ClassName == className).Line}.");
            var typeName = _typeAliases.GetValueOrDefault(nativeType, nativeType);
            if (!_recordDecls.TryGetValue(typeName, out var nativeDecl) && !_incompleteRecords.TryGetValue(typeName, out nativeDecl))
                throw new GeneratorException($"{where}: native type '{nativeType}' is not a struct declared in the headers.");
            if (!_functions.TryGetValue(releaseName, out var release))
                throw new GeneratorException($"{where}: release function '{releaseName}' is not declared in the headers.");
            if (LibClang.clang_Cursor_getStorageClass(release) == 3 /* static */ || LibClang.clang_Cursor_isFunctionInlined(release) != 0)
                throw new GeneratorException($"{where}: release function '{releaseName}' is static or inline (no symbol to import).");
            var parameter = LibClang.clang_Cursor_getNumArguments(release) == 1
                ? LibClang.clang_getCanonicalType(LibClang.clang_getCursorType(LibClang.clang_Cursor_getArgument(release, 0)))
                : default;
            if (parameter.Kind != TypeKind.Pointer || LibClang.clang_isFunctionTypeVariadic(LibClang.clang_getCursorType(release)) != 0)
                throw new GeneratorException($"{where}: release function '{releaseName}' must take exactly one pointer argument.");
            var pointee = LibClang.clang_getCanonicalType(LibClang.clang_getPointeeType(parameter));
            if (pointee.Kind != TypeKind.Record || LibClang.Usr(Definition(LibClang.clang_getTypeDeclaration(pointee))) != LibClang.Usr(nativeDecl))
                throw new GeneratorException($"{where}: release function '{releaseName}' takes '{LibClang.Spelling(parameter)}', not a pointer to '{nativeType}'.");
            handles.Add(new HandleModel(nativeType, releaseName, className, lineNumber));
        }
        return handles;
    }

    private string EmitHandles(string ns, List<HandleModel> handles, List<(CXCursor Cursor, Signature Signature)> signatures)
    {
        var text = Header(ns);
        foreach (var handle in handles.OrderBy(h => h.ClassName, StringComparer.Ordinal))
        {
            var release = signatures.First(s => s.Signature.Name == handle.Release);
            var owner = HeaderClass(LibClang.Location(release.Cursor).File);
            var parameterType = release.Signature.Parameters[0].Type;
            text.Append(Invariant($"/// <summary>Owns a <c>{handle.NativeType}</c>; released with <c>{handle.Release}</c>.</summary>\n"));
            text.Append(Invariant($"public sealed unsafe partial class {handle.ClassName} : PjSafeHandle\n{{\n"));
            text.Append(Invariant($"    public {handle.ClassName}() : base(true) {{ }}\n\n"));
            text.Append(Invariant($"    public {handle.ClassName}(nint handle, bool ownsHandle = true) : base(handle, ownsHandle) {{ }}\n\n"));
            text.Append(Invariant($"    protected override void ReleaseNative(nint handle) => {owner}.{handle.Release}(({parameterType})handle);\n"));
            text.Append("}\n\n");
        }
        return text.ToString().TrimEnd('\n') + "\n";
    }

    internal static StringBuilder Header(string ns, params string[] usings)
    {
        var text = new StringBuilder("// <auto-generated/>\n// Generated by PjSharp.Bindings.Generator from the pjproject headers; do not edit.\n#nullable enable\n");
        foreach (var line in usings)
            text.Append(line).Append('\n');
        text.Append(Invariant($"\nnamespace {ns};\n\n"));
        return text;
    }
}
