using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace PjSharp.Server.Commands;

/// <summary><c>pjsharp trace</c>: the SIP messages of a running server, live, until Ctrl-C or the server stops.</summary>
internal static class TraceCommand
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    public static Command Create()
    {
        var server = new Option<string?>("--server", "-s") { Description = "The server's admin socket (default: beside its database, pjsharp.sock)." };
        var database = new Option<string?>("--db") { Description = "The server's database, to find its admin socket beside it." };
        var addresses = new Option<string[]>("--address", "-a")
        {
            Description = "Only messages to or from this address or network (192.0.2.0/24, 2001:db8::/32). Repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var method = new Option<string?>("--method", "-m") { Description = "Only requests with this method and their responses (INVITE, REGISTER, OPTIONS, ...)." };
        var endpoints = new Option<string[]>("--endpoint", "-e")
        {
            Description = "Only messages whose From or To user is this endpoint. Repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var json = new Option<bool>("--json") { Description = "Print each message as a JSON line (as the admin endpoint sends it)." };
        var command = new Command("trace", "Print the SIP messages a running server sends and receives, live, until Ctrl-C.")
        {
            server, database, addresses, method, endpoints, json,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var output = parse.InvocationConfiguration.Output;
            var networks = parse.GetValue(addresses) ?? [];
            foreach (var network in networks)
            {
                if (!IPNetwork.TryParse(network, out _) && !IPAddress.TryParse(network, out _))
                {
                    await error.WriteLineAsync($"pjsharp trace: --address: '{network}' is not an address or network such as 192.0.2.0/24.");
                    return ExitUsage;
                }
            }
            var socket = AdminClient.ResolveSocket(parse.GetValue(server), parse.GetValue(database));
            // Ctrl-C ends the trace quietly rather than through the command line library's own handler.
            using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; interrupted.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; interrupted.Cancel(); });
            try
            {
                await using var client = await AdminClient.ConnectAsync(socket, interrupted.Token);
                await client.SendAsync(w =>
                {
                    w.WriteString("command", "trace");
                    w.WriteStartArray("addresses");
                    foreach (var network in networks)
                        w.WriteStringValue(network);
                    w.WriteEndArray();
                    if (parse.GetValue(method) is { Length: > 0 } name)
                        w.WriteString("method", name.ToUpperInvariant());
                    w.WriteStartArray("endpoints");
                    foreach (var endpoint in parse.GetValue(endpoints) ?? [])
                        w.WriteStringValue(endpoint);
                    w.WriteEndArray();
                }, interrupted.Token);
                return await PrintAsync(client, parse.GetValue(json), output, error, interrupted.Token);
            }
            catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
            {
                return ExitOk;
            }
            catch (AdminClientException failed)
            {
                await error.WriteLineAsync($"pjsharp trace: {failed.Message}");
                return ExitFailed;
            }
        });
        return command;
    }

    private static async Task<int> PrintAsync(AdminClient client, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        // Header lines stand out on a terminal (unless NO_COLOR); pipes get plain text.
        var colour = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        while (await client.ReadAsync(cancellationToken) is { } document)
        {
            using (document)
            {
                var root = document.RootElement;
                if (root.TryGetProperty("message", out var message))
                {
                    if (json)
                        await output.WriteLineAsync(root.GetRawText());
                    else
                        await output.WriteAsync(Format(message, colour));
                    await output.FlushAsync(cancellationToken);
                }
                else if (root.TryGetProperty("tracing", out _))
                {
                    await error.WriteLineAsync($"tracing SIP messages of the server at {client.SocketPath}; Ctrl-C to stop");
                    await error.FlushAsync(cancellationToken);
                }
                else if (root.TryGetProperty("dropped", out var dropped))
                {
                    await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"({dropped.GetInt64()} messages dropped so far: this terminal was behind)"));
                }
                else if (root.TryGetProperty("end", out var end))
                {
                    await error.WriteLineAsync($"trace ended: {end.GetProperty("reason").GetString()}");
                    return ExitOk;
                }
            }
        }
        await error.WriteLineAsync("trace ended: the server closed the connection");
        return ExitOk;
    }

    /// <summary>A header line (direction, time, transport, addresses), the message, and a blank line.</summary>
    internal static string Format(JsonElement message, bool colour = false)
    {
        var received = message.GetProperty("direction").GetString() == "in";
        var time = DateTimeOffset.Parse(message.GetProperty("time").GetString()!, CultureInfo.InvariantCulture).ToLocalTime();
        var transport = message.GetProperty("transport").GetString();
        var local = message.GetProperty("local").GetString();
        var remote = message.GetProperty("remote").GetString();
        var text = message.GetProperty("text").GetString() ?? "";
        var header = received
            ? string.Create(CultureInfo.InvariantCulture, $"<--- {time:HH:mm:ss.fff} received over {transport} from {remote} (to {local})")
            : string.Create(CultureInfo.InvariantCulture, $"---> {time:HH:mm:ss.fff} sent over {transport} to {remote} (from {local})");
        if (colour)
            header = (received ? "\e[1;36m" : "\e[1;32m") + header + "\e[0m";
        return header + "\n" + text.TrimEnd('\n') + "\n\n";
    }
}
