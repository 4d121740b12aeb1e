// Benchmarks measure and print; they are not tests. Usage: PjSharp.Benchmarks <suite>
var suites = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.OrdinalIgnoreCase)
{
    ["sip-ladder"] = PjSharp.Benchmarks.Sip.SipRateLadder.RunAsync,
    ["register-ladder"] = PjSharp.Benchmarks.Sip.RegisterLadder.RunAsync,
    ["registrar-memory"] = PjSharp.Benchmarks.Sip.RegistrarMemory.RunAsync,
    ["dataaccess"] = PjSharp.Benchmarks.DataAccess.DataAccessBenchmarks.RunAsync,
};
if (args.Length == 0 || args[0] == "all")
{
    var worst = 0;
    foreach (var (name, suite) in suites)
    {
        Console.WriteLine($"== {name} ==");
        worst = Math.Max(worst, await suite(args.Length == 0 ? [] : args[1..]));
    }
    return worst;
}
if (!suites.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"unknown benchmark suite '{args[0]}'");
    return 2;
}
return await run(args[1..]);
