using System.Diagnostics;
using System.Globalization;
using System.Text;
using PjSharp.Testing.Sipp;

namespace PjSharp.Benchmarks.Sip;

/// <summary>
/// The REGISTER ladder: SIPp registers users with digest authentication (REGISTER, 401,
/// REGISTER with credentials, 200) against <c>pjsharp serve --config</c> at climbing rates, the
/// server pinned to one core and SIPp to the other. Every step runs on a fresh server and a
/// fresh SQLite file: the first round of each user writes a new contact, later ones refresh it,
/// each durable before its 200. A step counts when nothing failed or was retransmitted and SIPp
/// kept within 3% of the offered rate. Prints the server's CPU per registration and its memory.
/// </summary>
public static class RegisterLadder
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = Options.Parse(args.SkipWhile(a => a == "register-ladder").ToArray());
        if (!SippRunner.IsAvailable)
        {
            await Console.Error.WriteLineAsync($"register-ladder: {SippRunner.MissingMessage}");
            return 1;
        }
        var launch = PjSharpServer.Locate("release");
        if (launch == null)
        {
            await Console.Error.WriteLineAsync($"register-ladder: {PjSharpServer.MissingMessage}");
            return 1;
        }
        var root = Directory.CreateTempSubdirectory("pjsharp-register-ladder-").FullName;
        try
        {
            var users = Enumerable.Range(0, options.Users).Select(i => string.Create(CultureInfo.InvariantCulture, $"u{i:D5}")).ToArray();
            var config = Path.Combine(root, "pjsip.conf");
            await File.WriteAllTextAsync(config, Configuration(users));
            var injection = Path.Combine(root, "users.csv");
            await File.WriteAllLinesAsync(injection, ["SEQUENTIAL", .. users.Select(u => $"{u};[authentication username={u} password=pw-{u}];3600")]);

            Console.WriteLine($"REGISTER ladder: {options.Users} users, digest MD5, {options.Seconds} s per step, server CPU {options.ServerCpu} ({options.Workers} workers), SIPp CPU {options.ClientCpu}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
            Console.WriteLine("   rate/s   calls      ok    lost  retrans  achieved/s   cpu   µs/reg  rss MiB  peak MiB  verdict");
            int? highest = null;
            for (var rate = options.Start; rate <= options.Max; rate += options.Step)
            {
                var clean = false;
                for (var attempt = 0; attempt < 2 && !clean; attempt++)
                {
                    var step = await RunStepAsync(launch, root, config, injection, rate, options);
                    clean = step.Clean;
                    Console.WriteLine(step.Format(clean ? "clean" : attempt == 0 ? "unclean, retrying" : "UNCLEAN"));
                }
                if (!clean)
                    break;
                highest = rate;
            }
            Console.WriteLine(highest is { } best
                ? $"highest clean rate: {best} authenticated registrations/s (target 5,000/s)"
                : "no clean step");
            return highest == null ? 1 : 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<Step> RunStepAsync(ServerLaunch launch, string root, string config, string injection, int rate, Options options)
    {
        var database = Path.Combine(root, $"step-{rate}.db");
        var serve = launch.Serve(["--config", config, "--db", database, "--transport", "udp:127.0.0.1:0", "--log-level", "Warning",
            "--workers", options.Workers.ToString(CultureInfo.InvariantCulture)], options.ServerCpu) with
        {
            WorkingDirectory = root,
            ReadyTimeout = TimeSpan.FromSeconds(60),
            // The ladder sends more failed-free traffic from one address than any phone would.
            Environment = new Dictionary<string, string?> { ["PJSHARP__PjSharp__Security__MaxUnidentifiedRequests"] = "100000000" },
        };
        await using var server = await ServerProcess.StartAsync(serve);
        var endpoint = server.Endpoint("udp");
        var cpuBefore = server.ProcessorTime;
        var result = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("register-auth-uac.xml"),
            Target = endpoint.HostPort,
            MaxCalls = rate * options.Seconds,
            Rate = rate,
            Timeout = TimeSpan.FromSeconds(options.Seconds * 3 + 20),
            ReceiveTimeout = TimeSpan.FromSeconds(5),
            SocketBufferSize = 4 * 1024 * 1024,
            CpuList = options.ClientCpu,
            ExtraArguments = ["-inf", injection],
        });
        var cpu = server.ProcessorTime - cpuBefore;
        var memory = ProcessMemory.Read(server.Pid);
        await server.StopAsync(TimeSpan.FromSeconds(20));
        foreach (var file in Directory.GetFiles(root, $"step-{rate}.db*"))
            File.Delete(file);
        return new Step(rate, result, cpu, memory.ResidentMiB, memory.PeakResidentMiB);
    }

    /// <summary>
    /// A configuration with one endpoint, auth (password pw-USER) and single-contact AOR per user;
    /// <paramref name="aorOptions"/> are added to every AOR (e.g. <c>support_path=yes</c>).
    /// </summary>
    internal static string Configuration(IEnumerable<string> users, params string[] aorOptions)
    {
        var text = new StringBuilder("""
            [global]
            type=global
            endpoint_identifier_order=username

            [phone](!)
            type=endpoint
            context=default

            [phone-aor](!)
            type=aor
            max_contacts=1
            remove_existing=yes

            """);
        foreach (var option in aorOptions)
            text.Append(option).Append('\n');
        foreach (var user in users)
            text.Append(CultureInfo.InvariantCulture, $"\n[{user}](phone)\nauth={user}\naors={user}\n\n[{user}]\ntype=auth\nusername={user}\npassword=pw-{user}\n\n[{user}](phone-aor)\n");
        return text.ToString();
    }

    private sealed record Step(int Rate, SippResult Result, TimeSpan Cpu, double RssMiB, double PeakMiB)
    {
        public bool Clean => Result.Clean && Result.AchievedRate >= Rate * LadderStep.RateTolerance;

        public string Format(string verdict)
        {
            var wall = Result.Statistics?.Elapsed ?? Result.WallTime;
            var share = wall > TimeSpan.Zero ? Cpu / wall : 0;
            var perRegistration = Result.Successful > 0 ? Cpu.TotalMicroseconds / Result.Successful : 0;
            return string.Create(CultureInfo.InvariantCulture,
                $"{Rate,9} {Result.Expected,7} {Result.Successful,7} {Result.Lost,7} {Result.Retransmissions,8} {Result.AchievedRate,11:0.0} {share,5:P0} {perRegistration,8:0.0} {RssMiB,8:0} {PeakMiB,9:0}  {verdict}");
        }
    }

    private sealed record Options(int Start, int Step, int Max, int Seconds, int Users, string ServerCpu, string ClientCpu, int Workers)
    {
        public static Options Parse(string[] args)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var arg in args)
            {
                var equals = arg.IndexOf('=', StringComparison.Ordinal);
                if (arg.StartsWith("--", StringComparison.Ordinal) && equals > 2)
                    values[arg[2..equals]] = arg[(equals + 1)..];
            }
            int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
            return new Options(Int("start", 1000), Int("step", 1000), Int("max", 15000), Int("seconds", 10), Int("users", 10_000),
                values.GetValueOrDefault("server-cpu", "0"), values.GetValueOrDefault("client-cpu", "1"), Int("workers", 1));
        }
    }
}
