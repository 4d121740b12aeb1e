using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>
/// SIPp as the called party of one outgoing call: a server scenario from tests/Sipp on a free
/// loopback UDP port, for <see cref="PjSharp.Sessions.SessionService.CallAsync"/> to call.
/// </summary>
internal sealed class SippCallee : IAsyncDisposable
{
    private SippCallee(SippRun run, int port)
    {
        Run = run;
        Port = port;
    }

    public SippRun Run { get; }

    public int Port { get; }

    /// <summary>The request URI to call.</summary>
    public string Uri => string.Create(CultureInfo.InvariantCulture, $"sip:bob@127.0.0.1:{Port}");

    /// <summary>Starts SIPp and waits until it listens; a port taken meanwhile is retried with another.</summary>
    public static Task<SippCallee> StartAsync(string scenario, SessionTestHost host, TimeSpan? timeout = null, IReadOnlyList<string>? extraArguments = null) =>
        StartAsync(scenario, host.Target, timeout, extraArguments: extraArguments);

    /// <summary>Starts SIPp as the server of <paramref name="calls"/> calls (each request with a new Call-ID is one), answering <paramref name="target"/>'s requests.</summary>
    public static async Task<SippCallee> StartAsync(string scenario, string target, TimeSpan? timeout = null, int calls = 1, IReadOnlyList<string>? extraArguments = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = SippRunner.FreeUdpPort();
            var run = SippRunner.Start(new SippOptions
            {
                Scenario = SippRunner.Scenario(scenario),
                Target = target,
                LocalPort = port,
                MaxCalls = calls,
                Timeout = timeout ?? TimeSpan.FromSeconds(30),
                TraceErrors = true,
                ExtraArguments = extraArguments ?? [],
            });
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!run.Completion.IsCompleted && !SippRunner.IsListening(port) && DateTime.UtcNow < deadline)
                await Task.Delay(20);
            if (!run.Completion.IsCompleted && SippRunner.IsListening(port))
                return new SippCallee(run, port);
            var result = await run.StopAsync();
            await run.DisposeAsync();
            if (attempt == 2)
                Assert.Fail($"SIPp did not start listening on 127.0.0.1:{port}.\n{result.Describe()}");
        }
    }

    /// <summary>Waits for SIPp to finish its one call and checks that the scenario completed.</summary>
    public async Task<SippResult> AssertSucceededAsync(TimeSpan? timeout = null)
    {
        var result = await Run.Completion.WaitAsync(timeout ?? TimeSpan.FromSeconds(20));
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        return result;
    }

    public ValueTask DisposeAsync() => Run.DisposeAsync();
}
