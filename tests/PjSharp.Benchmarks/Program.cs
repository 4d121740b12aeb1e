// Benchmarks measure and print; they are not tests.
const string usage = """
    usage: PjSharp.Benchmarks [all | <suite> [options]]   (<suite> --help for a suite's options)
      sip-ladder        OPTIONS rate ladder with SIPp against pjsharp serve and pjsip-perf (env PJSIP_PERF)
      call-ladder       call rate ladder (INVITE/ACK/hold/BYE) with SIPp against pjsharp's echo service and pjsip-perf
      register-ladder   authenticated REGISTER rate ladder with SIPp against pjsharp serve
      registrar-memory  managed memory per registered contact
      ws-register       1,000 WebSocket clients register with digest against pjsharp serve: REGISTER rate and memory per connection
      cluster-register  digest REGISTER rate through Kamailio to one and two nodes on a shared PostgreSQL, CPU per registration of each
      dataaccess        endpoint lookups, contact upserts on SQLite and PostgreSQL, pjsip.conf load time
      write-rate        contact writes/s with many concurrent writers: group commit (ContactWriter) against one
                        transaction per write, on SQLite and PostgreSQL
      soak              mixed traffic (REGISTER, OPTIONS, echo and bridged calls) for --minutes N (default 60) at ~70% load:
                        a row a minute, then slopes of memory, handles and threads and a verdict (not part of all)
    """;
var suites = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.OrdinalIgnoreCase)
{
    ["sip-ladder"] = PjSharp.Benchmarks.Sip.SipRateLadder.RunAsync,
    ["call-ladder"] = PjSharp.Benchmarks.Sip.CallLadder.RunAsync,
    ["register-ladder"] = PjSharp.Benchmarks.Sip.RegisterLadder.RunAsync,
    ["registrar-memory"] = PjSharp.Benchmarks.Sip.RegistrarMemory.RunAsync,
    ["ws-register"] = PjSharp.Benchmarks.Sip.WebSocketRegister.RunAsync,
    ["cluster-register"] = PjSharp.Benchmarks.Sip.ClusterRegister.RunAsync,
    ["dataaccess"] = PjSharp.Benchmarks.DataAccess.DataAccessBenchmarks.RunAsync,
    ["write-rate"] = PjSharp.Benchmarks.DataAccess.WriteRateBenchmark.RunAsync,
    ["soak"] = PjSharp.Benchmarks.Soak.SoakBenchmark.RunAsync,
};
// Suites too long for "all": run them by name.
var longSuites = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "soak" };
if (args.Length > 0 && args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(usage);
    return 0;
}
if (args.Length == 0 || args[0] == "all")
{
    var worst = 0;
    foreach (var (name, suite) in suites.Where(s => !longSuites.Contains(s.Key)))
    {
        Console.WriteLine($"== {name} ==");
        worst = Math.Max(worst, await suite(args.Length == 0 ? [] : args[1..]));
    }
    return worst;
}
if (!suites.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"unknown benchmark suite '{args[0]}'\n\n{usage}");
    return 2;
}
return await run(args[1..]);
