using PjSharp.Bindings.Generator;

string? methods = null, handles = null, settings = null, outCs = null, outNative = null;
var clangArgs = new List<string>();
foreach (var arg in args)
{
    static string Value(string a) => a[(a.IndexOf('=') + 1)..];
    if (arg.StartsWith("--clang-arg=", StringComparison.Ordinal)) clangArgs.Add(Value(arg));
    else if (arg.StartsWith("--methods=", StringComparison.Ordinal)) methods = Value(arg);
    else if (arg.StartsWith("--handles=", StringComparison.Ordinal)) handles = Value(arg);
    else if (arg.StartsWith("--settings=", StringComparison.Ordinal)) settings = Value(arg);
    else if (arg.StartsWith("--out-cs=", StringComparison.Ordinal)) outCs = Value(arg);
    else if (arg.StartsWith("--out-native=", StringComparison.Ordinal)) outNative = Value(arg);
    else
    {
        Console.Error.WriteLine($"unknown argument '{arg}'");
        return 2;
    }
}
if (methods == null || outCs == null || outNative == null)
{
    Console.Error.WriteLine("usage: PjSharp.Bindings.Generator --methods=NativeMethods.txt [--handles=Handles.txt] [--settings=pjproject-settings.cmake] [--clang-arg=ARG]... --out-cs=DIR --out-native=DIR");
    return 2;
}
try
{
    var result = BindingGenerator.Generate(new GeneratorOptions
    {
        MethodsFile = methods, HandlesFile = handles, SettingsFile = settings,
        ClangArguments = clangArgs, OutputCs = outCs, OutputNative = outNative,
    });
    Console.WriteLine($"bindings: {result.Structs} structs, {result.Enums} enums, {result.Functions} functions, {result.Constants} constants, {result.Handles} handles");
    return 0;
}
catch (GeneratorException error)
{
    Console.Error.WriteLine($"error: {error.Message}");
    return 1;
}
