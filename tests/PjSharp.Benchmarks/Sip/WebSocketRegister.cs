using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using PjSharp.Testing.Sipp;

namespace PjSharp.Benchmarks.Sip;

/// <summary>
/// SIP over WebSocket at scale: opens many WebSocket clients (subprotocol sip) against
/// <c>pjsharp serve --transport ws:...</c>, registers each with digest authentication (REGISTER,
/// 401, REGISTER with credentials, 200), then closes them all. Prints the connect and REGISTER
/// rates, the server's memory per open connection (RSS before and after connecting) and how long
/// the bindings take to go once the sockets close.
/// </summary>
public static partial class WebSocketRegister
{
    public static async Task<int> RunAsync(string[] args)
    {
        var clients = Int(args, "clients", 1000);
        var parallel = Int(args, "parallel", 50);
        var launch = PjSharpServer.Locate("release");
        if (launch == null)
        {
            await Console.Error.WriteLineAsync($"ws-register: {PjSharpServer.MissingMessage}");
            return 1;
        }
        var root = Directory.CreateTempSubdirectory("pjsharp-ws-register-").FullName;
        try
        {
            var users = Enumerable.Range(0, clients).Select(i => string.Create(CultureInfo.InvariantCulture, $"w{i:D5}")).ToArray();
            var config = Path.Combine(root, "pjsip.conf");
            await File.WriteAllTextAsync(config, RegisterLadder.Configuration(users));
            var serve = launch.Serve(["--config", config, "--db", Path.Combine(root, "ws.db"), "--transport", "ws:127.0.0.1:0", "--log-level", "Warning"]) with
            {
                WorkingDirectory = root,
                ReadyTimeout = TimeSpan.FromSeconds(60),
                Environment = new Dictionary<string, string?>
                {
                    ["PJSHARP__PjSharp__WebSocket__MaxConnectionsPerAddress"] = "1000000",
                    ["PJSHARP__PjSharp__WebSocket__MaxConnections"] = "1000000",
                    ["PJSHARP__PjSharp__Security__MaxUnidentifiedRequests"] = "100000000",
                },
            };
            await using var server = await ServerProcess.StartAsync(serve);
            var endpoint = server.Endpoint("ws").EndPoint;
            var uri = new Uri($"ws://{endpoint.Address}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}/ws");
            await Task.Delay(500);
            var idle = ProcessMemory.Read(server.Pid);
            Console.WriteLine($"WebSocket REGISTER: {clients} clients, {parallel} at a time, digest MD5, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

            var sockets = new ClientWebSocket[clients];
            var watch = Stopwatch.StartNew();
            await Parallel.ForEachAsync(Enumerable.Range(0, clients), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
            {
                var socket = new ClientWebSocket();
                socket.Options.AddSubProtocol("sip");
                await socket.ConnectAsync(uri, ct);
                sockets[i] = socket;
            });
            var connectTime = watch.Elapsed;
            await Task.Delay(500);
            var connected = ProcessMemory.Read(server.Pid);

            var failed = 0;
            var cpuBefore = server.ProcessorTime;
            watch.Restart();
            await Parallel.ForEachAsync(Enumerable.Range(0, clients), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
            {
                if (await RegisterAsync(sockets[i], users[i], endpoint.ToString(), ct) != 200)
                    Interlocked.Increment(ref failed);
            });
            var registerTime = watch.Elapsed;
            var cpu = server.ProcessorTime - cpuBefore;
            var registered = ProcessMemory.Read(server.Pid);

            watch.Restart();
            await Parallel.ForEachAsync(sockets, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (socket, ct) =>
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
                socket.Dispose();
            });
            var closeTime = watch.Elapsed;

            var perConnection = (connected.ResidentKiB - idle.ResidentKiB) / (double)clients;
            var perRegistration = (registered.ResidentKiB - connected.ResidentKiB) / (double)clients;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  connect:  {clients / connectTime.TotalSeconds,8:0} connections/s ({connectTime.TotalMilliseconds:0} ms)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  register: {(clients - failed) / registerTime.TotalSeconds,8:0} registrations/s ({registerTime.TotalMilliseconds:0} ms, {failed} failed, server CPU {cpu.TotalMicroseconds / Math.Max(1, clients - failed):0} µs/reg)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  close:    {clients / closeTime.TotalSeconds,8:0} closes/s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  memory:   idle {idle.ResidentMiB:0.0} MiB, connected {connected.ResidentMiB:0.0} MiB ({perConnection:0.0} KiB/connection), registered {registered.ResidentMiB:0.0} MiB ({perRegistration:0.0} KiB/registration)"));
            await server.StopAsync(TimeSpan.FromSeconds(20));
            return failed == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<int> RegisterAsync(ClientWebSocket socket, string user, string server, CancellationToken cancellationToken)
    {
        var host = $"{user}.invalid";
        var callId = $"{Guid.NewGuid():N}@ws";
        var first = await AskAsync(socket, Register(user, server, host, callId, 1, null), cancellationToken);
        if (Status(first) != 401)
            return Status(first);
        var challenge = Header(first, "WWW-Authenticate");
        var realm = Parameter(challenge, "realm");
        var nonce = Parameter(challenge, "nonce");
        var uri = $"sip:{server}";
        var cnonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var ha1 = Md5($"{user}:{realm}:pw-{user}");
        var ha2 = Md5($"REGISTER:{uri}");
        var response = Md5($"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}");
        var authorization = $"Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\"";
        return Status(await AskAsync(socket, Register(user, server, host, callId, 2, authorization), cancellationToken));
    }

    private static string Register(string user, string server, string host, string callId, int cseq, string? authorization) =>
        $"REGISTER sip:{server} SIP/2.0\r\nVia: SIP/2.0/WS {host};branch=z9hG4bK{Guid.NewGuid():N}\r\nMax-Forwards: 70\r\n" +
        $"From: <sip:{user}@{server}>;tag={cseq}{user}\r\nTo: <sip:{user}@{server}>\r\nCall-ID: {callId}\r\nCSeq: {cseq} REGISTER\r\n" +
        $"Contact: <sip:{user}@{host};transport=ws>;expires=600\r\n" +
        (authorization == null ? "" : $"Authorization: {authorization}\r\n") + "Content-Length: 0\r\n\r\n";

    private static async Task<string> AskAsync(ClientWebSocket socket, string request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await socket.SendAsync(Encoding.UTF8.GetBytes(request), WebSocketMessageType.Text, true, timeout.Token);
        var buffer = new byte[8192];
        while (true)
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(length), timeout.Token);
                length += result.Count;
            }
            while (!result.EndOfMessage);
            var message = Encoding.UTF8.GetString(buffer, 0, length);
            if (message.StartsWith("SIP/2.0 ", StringComparison.Ordinal) && Status(message) >= 200)
                return message;
        }
    }

    private static int Status(string message) =>
        message.Length > 11 && int.TryParse(message.AsSpan(8, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status) ? status : 0;

    private static string Header(string message, string name) =>
        message.Split("\r\n").FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim() ?? "";

    private static string Parameter(string challenge, string name)
    {
        var match = Regex.Match(challenge, $@"(?:^|[\s,]){name}=(?:""([^""]*)""|([^,\s]+))", RegexOptions.IgnoreCase);
        return match.Success ? (match.Groups[1].Success ? match.Groups[1].Value : match.Groups[2].Value) : "";
    }

#pragma warning disable CA5351 // Digest MD5 is what the server is challenged to check.
    private static string Md5(string text) => Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5351

    private static int Int(string[] args, string name, int fallback)
    {
        var prefix = $"--{name}=";
        var value = args.FirstOrDefault(a => a.StartsWith(prefix, StringComparison.Ordinal));
        return value == null ? fallback : int.Parse(value[prefix.Length..], CultureInfo.InvariantCulture);
    }
}
