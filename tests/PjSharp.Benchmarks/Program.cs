// Benchmarks measure and print; they are not tests. Usage: PjSharp.Benchmarks <suite>
var suites = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.OrdinalIgnoreCase);
if (args.Length == 0 || args[0] == "all")
{
    Console.WriteLine($"benchmark suites: {(suites.Count == 0 ? "(none yet)" : string.Join(", ", suites.Keys))}");
    return 0;
}
if (!suites.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"unknown benchmark suite '{args[0]}'");
    return 2;
}
return await run(args[1..]);
