using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using PjSharp.Bindings.Generator.Clang;

namespace PjSharp.Bindings.Generator;

public sealed record GenerationResult(int Structs, int Enums, int Functions, int Constants, int Handles, IReadOnlyList<string> Files);

/// <summary>Reads C headers through libclang and writes blittable C# bindings plus a C layout table.</summary>
public sealed unsafe partial class BindingGenerator
{
    private readonly GeneratorOptions _options;
    private readonly Selection _selection;
    private readonly List<string> _includeDirs;
    private readonly List<string> _clangArgs;
    private readonly Dictionary<string, string> _typedefForRecord = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RecordModel> _records = new(StringComparer.Ordinal);   // by C# name
    private readonly Dictionary<string, CXCursor> _recordDecls = new(StringComparer.Ordinal);  // by C# name, named records
    private readonly Dictionary<string, CXCursor> _enumDecls = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _opaque = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _enumsUsed = new(StringComparer.Ordinal);
    private readonly Queue<string> _pendingRecords = new();
    private readonly Dictionary<string, CXCursor> _functions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string File, bool FunctionLike)> _macros = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _typeAliases = new(StringComparer.Ordinal);
    private readonly HashSet<string> _opaqueTypedefs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _settingNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _anonymousEnumConstants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _enumConstantOwners = new(StringComparer.Ordinal);
    private readonly HashSet<string> _otherTypedefs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CXCursor> _incompleteRecords = new(StringComparer.Ordinal);

    private BindingGenerator(GeneratorOptions options)
    {
        _options = options;
        _selection = Selection.Read(options.MethodsFile);
        _clangArgs = ["-x", "c", "-std=gnu11", "-Wno-everything"];
        var resources = LibClang.ResourceDirectory();
        if (resources != null)
            _clangArgs.Add("-resource-dir=" + resources);
        if (options.SettingsFile != null)
        {
            var defines = SettingsFile.ReadDefines(options.SettingsFile);
            _clangArgs.AddRange(defines.Select(d => "-D" + d));
            _settingNames.UnionWith(defines.Select(d => d.Split('=')[0]));
        }
        _clangArgs.AddRange(options.ClangArguments);
        _clangArgs.Add("-I" + Path.GetDirectoryName(Path.GetFullPath(options.MethodsFile)));
        _includeDirs = _clangArgs.Where(a => a.StartsWith("-I", StringComparison.Ordinal))
            .Select(a => Path.GetFullPath(a[2..]).TrimEnd('/') + "/").Distinct().ToList();
    }

    public static GenerationResult Generate(GeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new BindingGenerator(options).Run();
    }

    private GenerationResult Run()
    {
        // Absent until this run has written everything.
        var marker = Path.Combine(_options.OutputCs, ".complete");
        if (File.Exists(marker))
            File.Delete(marker);
        var index = LibClang.clang_createIndex(0, 0);
        try
        {
            var unit = Parse(index, _selection.IncludeSource);
            try
            {
                Collect(LibClang.clang_getTranslationUnitCursor(unit));
                return Emit(index);
            }
            finally
            {
                LibClang.clang_disposeTranslationUnit(unit);
            }
        }
        finally
        {
            LibClang.clang_disposeIndex(index);
        }
    }

    private nint Parse(nint index, string source, bool tolerateErrors = false)
    {
        var file = Path.Combine(Path.GetTempPath(), $"pjsharp-bindings-{Environment.ProcessId}-{Guid.NewGuid():N}.c");
        File.WriteAllText(file, source);
        try
        {
            var args = _clangArgs.Select(a => Marshal.StringToCoTaskMemUTF8(a)).ToArray();
            var fileName = Marshal.StringToCoTaskMemUTF8(file);
            try
            {
                nint unit;
                int error;
                fixed (nint* argv = args)
                    error = LibClang.clang_parseTranslationUnit2(index, (byte*)fileName, (byte**)argv, args.Length, 0, 0, 0x01 /* detailed preprocessing record */, &unit);
                if (error != 0 || unit == 0)
                    throw new GeneratorException($"libclang could not parse the headers (error {error}).");
                if (!tolerateErrors)
                {
                    var errors = new List<string>();
                    for (uint i = 0; i < LibClang.clang_getNumDiagnostics(unit); i++)
                    {
                        var diagnostic = LibClang.clang_getDiagnostic(unit, i);
                        if (LibClang.clang_getDiagnosticSeverity(diagnostic) >= 3)
                            errors.Add(LibClang.ToManaged(LibClang.clang_formatDiagnostic(diagnostic, 0x1 | 0x2)));
                        LibClang.clang_disposeDiagnostic(diagnostic);
                    }
                    if (errors.Count > 0)
                        throw new GeneratorException("the headers do not compile:\n  " + string.Join("\n  ", errors.Take(20)));
                }
                return unit;
            }
            finally
            {
                foreach (var arg in args)
                    Marshal.FreeCoTaskMem(arg);
                Marshal.FreeCoTaskMem(fileName);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    private bool InProjectHeaders(string file) =>
        file.Length > 0 && _includeDirs.Any(dir => Path.GetFullPath(file).StartsWith(dir, StringComparison.Ordinal));

    private string HeaderOf(string file)
    {
        var full = Path.GetFullPath(file);
        var dir = _includeDirs.Where(d => full.StartsWith(d, StringComparison.Ordinal)).OrderByDescending(d => d.Length).First();
        return full[dir.Length..];
    }

    private void Collect(CXCursor root)
    {
        foreach (var cursor in LibClang.Children(root))
        {
            var (file, _) = LibClang.Location(cursor);
            if (!InProjectHeaders(file))
                continue;
            var name = LibClang.Spelling(cursor);
            switch (cursor.Kind)
            {
                case CursorKind.TypedefDecl:
                {
                    var underlying = LibClang.clang_getCanonicalType(LibClang.clang_getTypedefDeclUnderlyingType(cursor));
                    if (underlying.Kind is TypeKind.Record or TypeKind.Enum)
                    {
                        var decl = LibClang.clang_getTypeDeclaration(underlying);
                        var usr = LibClang.Usr(decl);
                        if (_typedefForRecord.TryGetValue(usr, out var first))
                            _typeAliases[name] = first;
                        else
                            _typedefForRecord[usr] = name;
                        if (underlying.Kind == TypeKind.Record && LibClang.clang_Type_getSizeOf(underlying) < 0)
                            _opaqueTypedefs.Add(name);
                        if (IsUnnamed(decl))
                        {
                            if (underlying.Kind == TypeKind.Record)
                                _recordDecls.TryAdd(name, Definition(decl));
                            else
                                _enumDecls.TryAdd(name, Definition(decl));
                        }
                    }
                    else
                    {
                        _otherTypedefs.Add(name);
                    }
                    break;
                }
                case CursorKind.StructDecl or CursorKind.UnionDecl:
                    if (IsUnnamed(cursor))
                        break;
                    if (LibClang.clang_Cursor_isNull(LibClang.clang_getCursorDefinition(cursor)) == 0)
                        _recordDecls[name] = LibClang.clang_getCursorDefinition(cursor);
                    else
                        _incompleteRecords.TryAdd(name, cursor);
                    break;
                case CursorKind.EnumDecl:
                    if (!IsUnnamed(cursor))
                        _enumDecls.TryAdd(name, cursor);
                    else
                        foreach (var constant in LibClang.Children(cursor).Where(c => c.Kind == CursorKind.EnumConstantDecl))
                            _anonymousEnumConstants[LibClang.Spelling(constant)] = LibClang.clang_getEnumConstantDeclValue(constant);
                    break;
                case CursorKind.FunctionDecl:
                    _functions.TryAdd(name, cursor);
                    break;
                case CursorKind.MacroDefinition:
                    _macros.TryAdd(name, (file, LibClang.clang_Cursor_isMacroFunctionLike(cursor) != 0));
                    break;
            }
        }
        // Constants of a named (or typedef'd) enum belong to that enum, not to PjConstants.
        foreach (var (name, decl) in _enumDecls.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            foreach (var constant in LibClang.Children(decl).Where(c => c.Kind == CursorKind.EnumConstantDecl))
            {
                var constantName = LibClang.Spelling(constant);
                _anonymousEnumConstants.Remove(constantName);
                _enumConstantOwners.TryAdd(constantName, name);
            }
        }
    }

    private static CXCursor Definition(CXCursor cursor)
    {
        var definition = LibClang.clang_getCursorDefinition(cursor);
        return LibClang.clang_Cursor_isNull(definition) != 0 ? cursor : definition;
    }

    private static bool IsUnnamed(CXCursor cursor)
    {
        var spelling = LibClang.Spelling(cursor);
        return spelling.Length == 0 || spelling.Contains("(unnamed", StringComparison.Ordinal) || spelling.Contains("(anonymous", StringComparison.Ordinal);
    }

    internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    internal static void WriteIfChanged(string path, string content, List<string> written)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = new UTF8Encoding(false).GetBytes(content.ReplaceLineEndings("\n"));
        if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
            File.WriteAllBytes(path, bytes);
        written.Add(Path.GetFullPath(path));
    }
}
