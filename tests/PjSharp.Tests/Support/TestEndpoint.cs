using System.Net;
using Microsoft.Extensions.Logging;
using PjSharp.Services;
using PjSharp.Transports;

namespace PjSharp.Tests.Support;

/// <summary>A started endpoint on loopback with free ports, and a log that tests can read.</summary>
internal sealed class TestEndpoint : IDisposable
{
    public TestEndpoint(int workers = 2, bool tcp = false, bool udp6 = false, bool answerOptions = true)
    {
        Logs = new ListLoggerProvider();
        LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.AddProvider(Logs).SetMinimumLevel(LogLevel.Debug));
        var options = new SipEndpointOptions { WorkerThreads = workers, NativeLogLevel = 2 };
        options.Transports.Add(new SipTransportOptions(SipTransportProtocol.Udp, new IPEndPoint(IPAddress.Loopback, 0)));
        if (tcp)
            options.Transports.Add(new SipTransportOptions(SipTransportProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, 0)));
        if (udp6)
            options.Transports.Add(new SipTransportOptions(SipTransportProtocol.Udp, new IPEndPoint(IPAddress.IPv6Loopback, 0)));
        Endpoint = SipEndpoint.Create(options, LoggerFactory);
        if (answerOptions)
        {
            Options = new OptionsService(Endpoint);
            Endpoint.RegisterService(Options);
        }
        Endpoint.Start();
    }

    public SipEndpoint Endpoint { get; }

    public OptionsService? Options { get; }

    public ListLoggerProvider Logs { get; }

    public ILoggerFactory LoggerFactory { get; }

    public IPEndPoint Udp => Endpoint.Transports.First(t => t.Protocol == SipTransportProtocol.Udp && t.LocalEndPoint.Address.Equals(IPAddress.Loopback)).LocalEndPoint;

    public IPEndPoint Tcp => Endpoint.Transports.First(t => t.Protocol == SipTransportProtocol.Tcp).LocalEndPoint;

    public IPEndPoint Udp6 => Endpoint.Transports.First(t => t.LocalEndPoint.Address.Equals(IPAddress.IPv6Loopback)).LocalEndPoint;

    public void Dispose()
    {
        Options?.Dispose();
        Endpoint.Dispose();
        LoggerFactory.Dispose();
    }
}

/// <summary>Keeps every log entry in memory so tests can assert on them.</summary>
internal sealed class ListLoggerProvider : ILoggerProvider
{
    private readonly List<(string Category, LogLevel Level, EventId Id, string Message, Exception? Exception)> _entries = [];

    public IReadOnlyList<(string Category, LogLevel Level, EventId Id, string Message, Exception? Exception)> Entries
    {
        get { lock (_entries) return _entries.ToArray(); }
    }

    public ILogger CreateLogger(string categoryName) => new ListLogger(this, categoryName);

    public void Dispose() { }

    private sealed class ListLogger(ListLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
                owner._entries.Add((category, logLevel, eventId, formatter(state, exception), exception));
        }
    }
}
