using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PjSharp.Testing.Soak;

/// <summary>
/// The hosted server's log during a soak: warnings and errors are counted and the first few kept (a clean soak logs
/// none); with <see cref="Echo"/> they also go to standard error as they happen.
/// </summary>
public sealed class SoakLog : ILoggerProvider
{
    private const int Kept = 12;
    private readonly ConcurrentQueue<string> _first = new();
    private int _warnings;
    private int _errors;

    public TextWriter? Echo { get; init; }

    public int Warnings => Volatile.Read(ref _warnings);

    public int Errors => Volatile.Read(ref _errors);

    public IReadOnlyList<string> First => [.. _first];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(LogLevel level, string category, string message, Exception? exception)
    {
        if (level >= LogLevel.Error)
            Interlocked.Increment(ref _errors);
        else
            Interlocked.Increment(ref _warnings);
        var line = $"{DateTime.Now:HH:mm:ss} {level} {category}: {message}{(exception == null ? "" : " (" + exception.GetType().Name + ": " + exception.Message + ")")}";
        if (_first.Count < Kept)
            _first.Enqueue(line);
        Echo?.WriteLine(line);
    }

    private sealed class Logger(SoakLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            ArgumentNullException.ThrowIfNull(formatter);
            log.Add(logLevel, category, formatter(state, exception), exception);
        }
    }
}
