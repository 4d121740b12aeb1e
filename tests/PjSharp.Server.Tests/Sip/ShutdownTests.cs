using System.Diagnostics;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sip;

/// <summary>SIGTERM/SIGINT stop the server gracefully (exit 0 within 5 s), even with traffic in flight.</summary>
[TestFixture]
public sealed class ShutdownTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    [Test]
    public async Task Sigterm_with_options_traffic_in_flight_exits_0_within_5_seconds()
    {
        SipTestServer.RequireSipp();
        await using var server = await SipTestServer.StartAsync(["udp:127.0.0.1:0", "tcp:127.0.0.1:0"]);
        var options = SipTestServer.Options(server.Endpoint("udp"), SippTransport.Udp, calls: 40000, rate: 2000) with
        {
            Timeout = TimeSpan.FromSeconds(30),
            ReceiveTimeout = TimeSpan.FromSeconds(2),
            TraceErrors = false,
        };
        await using var sipp = SippRunner.Start(options);

        // Wait until answers are flowing (SIPp writes its statistics once a second), at most 5 s.
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(5) && (sipp.CurrentStatistics()?.Successful ?? 0) == 0 && !sipp.Completion.IsCompleted)
            await Task.Delay(100);
        var before = sipp.CurrentStatistics();
        Assert.That(before?.Successful ?? 0, Is.GreaterThan(0),
            $"no OPTIONS answered before SIGTERM\n{(sipp.Completion.IsCompleted ? (await sipp.Completion).Describe() : sipp.CommandLine)}\n--- server output ---\n{server.OutputTail(30)}");

        var stop = await server.StopAsync(Grace);
        var result = await sipp.StopAsync();

        var details = $"stop: {stop}\nsipp: {result}\n--- server output ---\n{server.OutputTail(40)}";
        Assert.Multiple(() =>
        {
            Assert.That(stop.ExitedInTime, Is.True, "still running 5 s after SIGTERM (killed)\n" + details);
            Assert.That(stop.ExitCode, Is.Zero, details);
            Assert.That(result.Successful, Is.LessThan(options.MaxCalls), "the run ended before SIGTERM, so nothing was in flight\n" + details);
        });
    }

    [Test]
    public async Task Sigint_when_idle_exits_0_within_5_seconds()
    {
        await using var server = await SipTestServer.StartAsync(["udp:127.0.0.1:0"]);
        // A process started with SIGINT ignored (a background job of a script) keeps it ignored, as
        // every program does; then SIGINT must leave it serving, and SIGTERM still stops it.
        var inherited = SigintIgnored(server.Pid);
        var clock = Stopwatch.StartNew();
        Assert.That(server.Signal(ProcessSignals.Interrupt), Is.True, "could not signal the server");
        using var timeout = new CancellationTokenSource(Grace);
        try
        {
            await server.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (inherited)
        {
            Assert.That(server.Signal(ProcessSignals.Terminate), Is.True);
            await server.WaitForExitAsync(CancellationToken.None);
        }
        catch (OperationCanceledException)
        {
            var stop = await server.StopAsync(TimeSpan.Zero);
            Assert.Fail($"still running 5 s after SIGINT (killed: {stop})\n{server.OutputTail()}");
        }
        Assert.That(server.ExitCode, Is.Zero, $"exit after SIGINT in {clock.Elapsed.TotalSeconds:0.0} s\n{server.OutputTail()}");
    }

    private static bool SigintIgnored(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        var mask = ulong.Parse(line["SigIgn:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
        return (mask & (1UL << (ProcessSignals.Interrupt - 1))) != 0;
    }
}
