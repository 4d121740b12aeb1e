using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Sessions;
using PjSharp.Testing.Sipp;
using PjSharp.Transports;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>
/// The session core in this process: a real pjsip endpoint on loopback UDP (free port) with a
/// session service, for tests that give it their own applications, extensions and SDP handlers
/// and drive it with SIPp.
/// </summary>
internal sealed class SessionTestHost : IAsyncDisposable
{
    private SessionTestHost(SipEndpoint endpoint, SessionService sessions, MemoryLoggerProvider logs, ILoggerFactory loggers)
    {
        Endpoint = endpoint;
        Sessions = sessions;
        Logs = logs;
        _loggers = loggers;
    }

    private readonly ILoggerFactory _loggers;

    public SipEndpoint Endpoint { get; }

    public SessionService Sessions { get; }

    public MemoryLoggerProvider Logs { get; }

    public IPEndPoint Udp => Endpoint.Transports.First(t => t.Protocol == SipTransportProtocol.Udp).LocalEndPoint;

    /// <summary>What SIPp is given as its target.</summary>
    public string Target => $"127.0.0.1:{Udp.Port}";

    /// <summary>The endpoint calls are matched to when no other is given: loopback, no authentication.</summary>
    public static Endpoint DefaultEndpoint { get; } = new("sipp") { Context = "default" };

    public static SessionTestHost Start(Action<SessionService>? configure = null, Endpoint? endpoint = null, int rtpPortStart = 30000, int rtpPortCount = 2000)
    {
        var logs = new MemoryLoggerProvider();
        var loggers = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        var options = new SipEndpointOptions { WorkerThreads = 2, NativeLogLevel = 1 };
        options.Transports.Add(new SipTransportOptions(SipTransportProtocol.Udp, new IPEndPoint(IPAddress.Loopback, 0)));
        var sipEndpoint = SipEndpoint.Create(options, loggers);
        SessionService? sessions = null;
        try
        {
            sessions = new SessionService(sipEndpoint, new SessionServiceOptions
            {
                DefaultEndpoint = endpoint ?? DefaultEndpoint,
                RtpPortStart = rtpPortStart,
                RtpPortEnd = rtpPortStart + rtpPortCount,
            }, logger: loggers.CreateLogger("PjSharp.Sessions"));
            configure?.Invoke(sessions);
            sipEndpoint.RegisterService(sessions);
            sipEndpoint.Start();
            return new SessionTestHost(sipEndpoint, sessions, logs, loggers);
        }
        catch
        {
            sipEndpoint.Dispose();
            loggers.Dispose();
            throw;
        }
    }

    /// <summary>Runs a SIPp scenario from tests/Sipp against this host.</summary>
    public Task<SippResult> RunSippAsync(string scenario, string service, int calls = 1, double rate = 10, IEnumerable<string>? extra = null, TimeSpan? timeout = null) =>
        SippRunner.RunAsync(new SippOptions
        {
            Scenario = Path.IsPathRooted(scenario) ? scenario : SippRunner.Scenario(scenario),
            Target = Target,
            Service = service,
            MaxCalls = calls,
            Rate = rate,
            Timeout = timeout ?? TimeSpan.FromSeconds(calls / rate + 20),
            TraceErrors = true,
            ExtraArguments = [.. extra ?? []],
        });

    /// <summary>call-rejected-uac.xml expecting <paramref name="status"/> as the final answer (a file deleted on dispose).</summary>
    public static SippScenario RejectedScenario(int status) =>
        SippScenario.Load("call-rejected-uac.xml").Replace("\"STATUS\"", $"\"{status}\"");

    /// <summary>Waits until no session is left (they end asynchronously after the last message).</summary>
    public async Task WaitForNoSessionsAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (Sessions.ActiveSessions > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.That(Sessions.ActiveSessions, Is.Zero, "sessions still active");
    }

    public async ValueTask DisposeAsync()
    {
        await Sessions.DisposeAsync();
        Endpoint.UnregisterService(Sessions);
        await Endpoint.DisposeAsync();
        _loggers.Dispose();
    }
}

/// <summary>Keeps log entries in memory for assertions.</summary>
internal sealed class MemoryLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, LogLevel Level, EventId Id, string Message, Exception? Exception)> _entries = new();

    public IReadOnlyList<(string Category, LogLevel Level, EventId Id, string Message, Exception? Exception)> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(MemoryLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue((category, logLevel, eventId, formatter(state, exception), exception));
    }
}
