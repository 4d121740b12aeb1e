using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PjSharp.Bindings.Generator.Clang;

// The whole libclang surface the generator uses: keep it small.

[StructLayout(LayoutKind.Sequential)]
internal struct CXString
{
    public nint Data;
    public uint Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXCursor
{
    public int Kind;
    public int XData;
    public nint Data0, Data1, Data2;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXType
{
    public int Kind;
    public nint Data0, Data1;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CXSourceLocation
{
    public nint Data0, Data1;
    public uint IntData;
}

internal static class CursorKind
{
    public const int StructDecl = 2, UnionDecl = 3, EnumDecl = 5, FieldDecl = 6, EnumConstantDecl = 7,
        FunctionDecl = 8, VarDecl = 9, ParmDecl = 10, TypedefDecl = 20, MacroDefinition = 501;
}

internal static class TypeKind
{
    public const int Invalid = 0, Unexposed = 1, Void = 2, Bool = 3, CharU = 4, UChar = 5, Char16 = 6, Char32 = 7,
        UShort = 8, UInt = 9, ULong = 10, ULongLong = 11, UInt128 = 12, CharS = 13, SChar = 14, WChar = 15,
        Short = 16, Int = 17, Long = 18, LongLong = 19, Int128 = 20, Float = 21, Double = 22, LongDouble = 23,
        Pointer = 101, Record = 105, Enum = 106, Typedef = 107, FunctionNoProto = 110, FunctionProto = 111,
        ConstantArray = 112, IncompleteArray = 114, Elaborated = 119;
}

internal static unsafe partial class LibClang
{
    private const string Library = "clang";

    static LibClang() => NativeLibrary.SetDllImportResolver(typeof(LibClang).Assembly, Resolve);

    // libclang comes from the libclang.runtime.<rid> NuGet package, copied beside the generator;
    // LIBCLANG_PATH names another build of it.
    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library)
            return 0;
        var configured = Environment.GetEnvironmentVariable("LIBCLANG_PATH");
        if (!string.IsNullOrEmpty(configured))
            return NativeLibrary.Load(configured);
        if (NativeLibrary.TryLoad("libclang", assembly, path, out var handle))
            return handle;
        throw new DllNotFoundException(
            $"libclang was not found beside the generator (the libclang.runtime.{RuntimeInformation.RuntimeIdentifier} " +
            "NuGet package provides it); set LIBCLANG_PATH to a libclang shared library.");
    }

    /// <summary>
    /// The resource directory whose include/ holds the compiler's own headers (stddef.h, stdarg.h).
    /// libclang from NuGet ships none, so they come from LIBCLANG_RESOURCE_DIR, from a clang
    /// installation beside the library, or from the C compiler that builds the native library.
    /// </summary>
    public static string? ResourceDirectory()
    {
        var configured = Environment.GetEnvironmentVariable("LIBCLANG_RESOURCE_DIR");
        if (!string.IsNullOrEmpty(configured))
            return configured;
        return BesideLibrary() ?? CompilerHeaders.ResourceDirectory();
    }

    private static string? BesideLibrary()
    {
        _ = clang_getClangVersion(); // makes sure the library is loaded
        string? library = null;
        if (File.Exists("/proc/self/maps"))
        {
            library = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 6 && Path.GetFileName(f[5]).StartsWith("libclang", StringComparison.Ordinal))
                .Select(f => f[5]).FirstOrDefault();
        }
        if (library == null)
            return null;
        var lib = Path.GetDirectoryName(new FileInfo(library).ResolveLinkTarget(true)?.FullName ?? library);
        var versions = lib == null ? null : Path.Combine(lib, "clang");
        if (versions == null || !Directory.Exists(versions))
            return null;
        return Directory.GetDirectories(versions).Where(d => File.Exists(Path.Combine(d, "include", "stddef.h")))
            .OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault();
    }

    public static string Version() => ToManaged(clang_getClangVersion());

    public delegate int Visitor(CXCursor cursor, CXCursor parent);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int VisitThunk(CXCursor cursor, CXCursor parent, nint clientData) =>
        ((Visitor)GCHandle.FromIntPtr(clientData).Target!)(cursor, parent);

    /// <summary>Children of a cursor, in order.</summary>
    public static List<CXCursor> Children(CXCursor cursor)
    {
        var children = new List<CXCursor>();
        Visitor visitor = (child, _) => { children.Add(child); return 1; /* CXChildVisit_Continue */ };
        var handle = GCHandle.Alloc(visitor);
        try
        {
            _ = clang_visitChildren(cursor, &VisitThunk, GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        return children;
    }

    public static string ToManaged(CXString text)
    {
        try
        {
            return Marshal.PtrToStringUTF8(clang_getCString(text)) ?? "";
        }
        finally
        {
            clang_disposeString(text);
        }
    }

    public static string Spelling(CXCursor cursor) => ToManaged(clang_getCursorSpelling(cursor));
    public static string Spelling(CXType type) => ToManaged(clang_getTypeSpelling(type));
    public static string Usr(CXCursor cursor) => ToManaged(clang_getCursorUSR(cursor));

    public static (string File, int Line) Location(CXCursor cursor)
    {
        nint file;
        uint line, column, offset;
        clang_getSpellingLocation(clang_getCursorLocation(cursor), &file, &line, &column, &offset);
        return (file == 0 ? "" : ToManaged(clang_getFileName(file)), (int)line);
    }

    [LibraryImport(Library)] private static partial CXString clang_getClangVersion();
    [LibraryImport(Library)] public static partial nint clang_createIndex(int excludeDeclarationsFromPch, int displayDiagnostics);
    [LibraryImport(Library)] public static partial void clang_disposeIndex(nint index);
    [LibraryImport(Library)] public static partial int clang_parseTranslationUnit2(nint index, byte* sourceFilename, byte** commandLineArgs, int numArgs, nint unsavedFiles, uint numUnsavedFiles, uint options, nint* translationUnit);
    [LibraryImport(Library)] public static partial void clang_disposeTranslationUnit(nint unit);
    [LibraryImport(Library)] public static partial CXCursor clang_getTranslationUnitCursor(nint unit);
    [LibraryImport(Library)] public static partial uint clang_getNumDiagnostics(nint unit);
    [LibraryImport(Library)] public static partial nint clang_getDiagnostic(nint unit, uint index);
    [LibraryImport(Library)] public static partial int clang_getDiagnosticSeverity(nint diagnostic);
    [LibraryImport(Library)] public static partial CXString clang_formatDiagnostic(nint diagnostic, uint options);
    [LibraryImport(Library)] public static partial void clang_disposeDiagnostic(nint diagnostic);
    [LibraryImport(Library)] private static partial uint clang_visitChildren(CXCursor parent, delegate* unmanaged[Cdecl]<CXCursor, CXCursor, nint, int> visitor, nint clientData);
    [LibraryImport(Library)] private static partial nint clang_getCString(CXString text);
    [LibraryImport(Library)] private static partial void clang_disposeString(CXString text);
    [LibraryImport(Library)] private static partial CXString clang_getCursorSpelling(CXCursor cursor);
    [LibraryImport(Library)] private static partial CXString clang_getTypeSpelling(CXType type);
    [LibraryImport(Library)] private static partial CXString clang_getCursorUSR(CXCursor cursor);
    [LibraryImport(Library)] private static partial CXSourceLocation clang_getCursorLocation(CXCursor cursor);
    [LibraryImport(Library)] private static partial void clang_getSpellingLocation(CXSourceLocation location, nint* file, uint* line, uint* column, uint* offset);
    [LibraryImport(Library)] private static partial CXString clang_getFileName(nint file);
    [LibraryImport(Library)] public static partial CXType clang_getCursorType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getCanonicalType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getPointeeType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getArrayElementType(CXType type);
    [LibraryImport(Library)] public static partial long clang_getArraySize(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getResultType(CXType type);
    [LibraryImport(Library)] public static partial int clang_getNumArgTypes(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getArgType(CXType type, uint index);
    [LibraryImport(Library)] public static partial uint clang_isFunctionTypeVariadic(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_Type_getNamedType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getTypedefDeclUnderlyingType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getTypeDeclaration(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getSizeOf(CXType type);
    [LibraryImport(Library)] public static partial long clang_Cursor_getOffsetOfField(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isBitField(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_getFieldDeclBitWidth(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isAnonymous(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isAnonymousRecordDecl(CXCursor cursor);
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)] public static partial long clang_Type_getOffsetOf(CXType type, string field);
    [LibraryImport(Library)] public static partial CXCursor clang_getCanonicalCursor(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getCursorDefinition(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isNull(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_equalCursors(CXCursor a, CXCursor b);
    [LibraryImport(Library)] public static partial long clang_getEnumConstantDeclValue(CXCursor cursor);
    [LibraryImport(Library)] public static partial ulong clang_getEnumConstantDeclUnsignedValue(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getEnumDeclIntegerType(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_getStorageClass(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isFunctionInlined(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isMacroFunctionLike(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_getNumArguments(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_Cursor_getArgument(CXCursor cursor, uint index);
    [LibraryImport(Library)] public static partial nint clang_Cursor_Evaluate(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_EvalResult_getKind(nint result);
    [LibraryImport(Library)] public static partial long clang_EvalResult_getAsLongLong(nint result);
    [LibraryImport(Library)] public static partial uint clang_EvalResult_isUnsignedInt(nint result);
    [LibraryImport(Library)] public static partial ulong clang_EvalResult_getAsUnsigned(nint result);
    [LibraryImport(Library)] public static partial nint clang_EvalResult_getAsStr(nint result);
    [LibraryImport(Library)] public static partial void clang_EvalResult_dispose(nint result);
}
