namespace PjSharp.Bindings.Generator.Tests;

/// <summary>One folder under Golden/: input.h, NativeMethods.txt, optional Handles.txt and settings.cmake, expected/.</summary>
public sealed class GoldenCase
{
    public const string UpdateVariable = "PJSHARP_UPDATE_GOLDEN";

    private GoldenCase(string name, string directory)
    {
        Name = name;
        Directory = directory;
    }

    public string Name { get; }

    /// <summary>The copy beside the test assembly.</summary>
    public string Directory { get; }

    public string ExpectedDirectory => Path.Combine(Directory, "expected");

    public override string ToString() => Name;

    public static IEnumerable<GoldenCase> All() =>
        System.IO.Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "Golden"))
            .Order(StringComparer.Ordinal)
            .Select(d => new GoldenCase(Path.GetFileName(d), d));

    public static GoldenCase Named(string name) => All().Single(c => c.Name == name);

    public GenerationResult Generate(string output) => BindingGenerator.Generate(Options(output));

    public GeneratorOptions Options(string output)
    {
        string? Optional(string file) => File.Exists(Path.Combine(Directory, file)) ? Path.Combine(Directory, file) : null;
        return new GeneratorOptions
        {
            MethodsFile = Path.Combine(Directory, "NativeMethods.txt"),
            HandlesFile = Optional("Handles.txt"),
            SettingsFile = Optional("settings.cmake"),
            OutputCs = Path.Combine(output, "cs"),
            OutputNative = Path.Combine(output, "native"),
        };
    }

    /// <summary>Generated files by path relative to the output folder ("cs/Structs.g.cs"), marker excluded.</summary>
    public static SortedDictionary<string, byte[]> ReadTree(string root)
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        if (!System.IO.Directory.Exists(root))
            return files;
        foreach (var file in System.IO.Directory.GetFiles(root, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (Path.GetFileName(relative) != ".complete")
                files[relative] = File.ReadAllBytes(file);
        }
        return files;
    }

    /// <summary>The source-tree folder of this case, for PJSHARP_UPDATE_GOLDEN=1.</summary>
    public string SourceDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "PjSharp.Bindings.Generator.Tests", "Golden", Name);
            if (System.IO.Directory.Exists(candidate))
                return candidate;
        }
        throw new DirectoryNotFoundException($"the source folder of golden case '{Name}' was not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>A temporary folder removed after the test.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "pjsharp-gen-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name, string content)
    {
        var path = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllText(path, content.ReplaceLineEndings("\n"));
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
