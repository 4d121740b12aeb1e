using PjSharp.Bindings.Generator;

const string Usage = "usage: PjSharp.Bindings.Generator --methods FILE [--handles FILE] [--settings FILE] [--clang-arg ARG]... --out-cs DIR --out-native DIR\n" +
    "       (each option also accepts the --name=value form)";

string? methods = null, handles = null, settings = null, outCs = null, outNative = null;
var clangArgs = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    var arg = args[i];
    var equals = arg.IndexOf('=', StringComparison.Ordinal);
    var name = equals > 0 ? arg[..equals] : arg;
    string? value = equals > 0 ? arg[(equals + 1)..] : null;
    if (name is "--help" or "-h")
    {
        Console.WriteLine(Usage);
        return 0;
    }
    if (name is not ("--methods" or "--handles" or "--settings" or "--clang-arg" or "--out-cs" or "--out-native"))
    {
        Console.Error.WriteLine($"error: unknown argument '{arg}'\n{Usage}");
        return 2;
    }
    if (value == null)
    {
        if (i + 1 >= args.Length)
        {
            Console.Error.WriteLine($"error: {name} needs a value\n{Usage}");
            return 2;
        }
        value = args[++i];
    }
    switch (name)
    {
        case "--methods": methods = value; break;
        case "--handles": handles = value; break;
        case "--settings": settings = value; break;
        case "--clang-arg": clangArgs.Add(value); break;
        case "--out-cs": outCs = value; break;
        case "--out-native": outNative = value; break;
    }
}
if (methods == null || outCs == null || outNative == null)
{
    Console.Error.WriteLine($"error: --methods, --out-cs and --out-native are required\n{Usage}");
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
