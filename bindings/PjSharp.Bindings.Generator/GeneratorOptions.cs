namespace PjSharp.Bindings.Generator;

/// <summary>Inputs of one generation run.</summary>
public sealed class GeneratorOptions
{
    /// <summary>NativeMethods.txt: #include lines, then names or prefixes (with *) to bind, '-' to exclude.</summary>
    public required string MethodsFile { get; init; }

    /// <summary>Handles.txt: "native_type release_function ClassName" per line; optional.</summary>
    public string? HandlesFile { get; init; }

    /// <summary>native/pjproject-settings.cmake: its PJSHARP_PJPROJECT_DEFINES become -D arguments.</summary>
    public string? SettingsFile { get; init; }

    /// <summary>Extra clang arguments (-I, -D from pkg-config).</summary>
    public IReadOnlyList<string> ClangArguments { get; init; } = [];

    public required string OutputCs { get; init; }

    public required string OutputNative { get; init; }

    public string Namespace { get; init; } = "PjSharp.Interop";

    public string LibraryName { get; init; } = "pjsharp";
}

/// <summary>A refusal: the message names the input file and line, or the C declaration.</summary>
public sealed class GeneratorException : Exception
{
    public GeneratorException() { }
    public GeneratorException(string message) : base(message) { }
    public GeneratorException(string message, Exception inner) : base(message, inner) { }
}
