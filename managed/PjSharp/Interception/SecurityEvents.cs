using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using PjSharp.Interception.Security;

namespace PjSharp.Interception;

/// <summary>The security events interception reports, as Asterisk's security framework names them.</summary>
public enum SecurityEventKind
{
    InvalidEndpoint,
    AclRejected,
    ChallengeSent,
    AuthenticationFailed,
    AuthenticationSucceeded,
    RequestNotSupported,
    SourceBlocked,
}

/// <summary>
/// Security events: always counted (per kind, and through the <c>pjsharp.security.events</c>
/// counter), logged with stable event ids. What a client sends is escaped before it reaches a
/// log line, and lines about one source are limited per minute, so an attack cannot fill the disk.
/// </summary>
public sealed partial class SecurityEvents : IDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Counter<long>? _counter;
    private readonly LogLimiter _limiter = new();
    private readonly ITimer _summaries;
    private readonly long[] _counts = new long[Enum.GetValues<SecurityEventKind>().Length];
    private static readonly KeyValuePair<string, object?>[] Tags =
        [.. Enum.GetValues<SecurityEventKind>().Select(k => new KeyValuePair<string, object?>("event", ToTag(k)))];

    public SecurityEvents(ILogger logger, Meter? meter = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _counter = meter?.CreateCounter<long>("pjsharp.security.events", description: "Security events by kind");
        // Sources that went quiet still get their summary of suppressed lines.
        _summaries = _time.CreateTimer(_ => _limiter.ReportSummaries(_logger, _time.GetUtcNow().ToUnixTimeMilliseconds()),
            null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
    }

    public void Dispose() => _summaries.Dispose();

    /// <summary>How many events of <paramref name="kind"/> happened.</summary>
    public long Count(SecurityEventKind kind) => Volatile.Read(ref _counts[(int)kind]);

    private void Record(SecurityEventKind kind)
    {
        Interlocked.Increment(ref _counts[(int)kind]);
        _counter?.Add(1, Tags[(int)kind]);
    }

    public void InvalidEndpoint(SourceAddress source, ReadOnlySpan<byte> user)
    {
        Record(SecurityEventKind.InvalidEndpoint);
        if (_logger.IsEnabled(LogLevel.Warning) && ShouldLog(source))
            LogInvalidEndpoint(_logger, source.ToString(), Escape(user));
    }

    public void AclRejected(SourceAddress source, string? endpoint)
    {
        Record(SecurityEventKind.AclRejected);
        if (_logger.IsEnabled(LogLevel.Warning) && ShouldLog(source))
            LogAclRejected(_logger, source.ToString(), endpoint ?? "(global)");
    }

    public void ChallengeSent(SourceAddress source, string endpoint)
    {
        Record(SecurityEventKind.ChallengeSent);
        if (_logger.IsEnabled(LogLevel.Debug) && ShouldLog(source))
            LogChallengeSent(_logger, source.ToString(), endpoint);
    }

    public void AuthenticationFailed(SourceAddress source, string endpoint, string reason)
    {
        Record(SecurityEventKind.AuthenticationFailed);
        if (_logger.IsEnabled(LogLevel.Warning) && ShouldLog(source))
            LogAuthenticationFailed(_logger, source.ToString(), endpoint, reason);
    }

    public void AuthenticationSucceeded(SourceAddress source, string endpoint)
    {
        Record(SecurityEventKind.AuthenticationSucceeded);
        if (_logger.IsEnabled(LogLevel.Debug) && ShouldLog(source))
            LogAuthenticationSucceeded(_logger, source.ToString(), endpoint);
    }

    public void RequestNotSupported(SourceAddress source, ReadOnlySpan<byte> method)
    {
        Record(SecurityEventKind.RequestNotSupported);
        if (_logger.IsEnabled(LogLevel.Information) && ShouldLog(source))
            LogRequestNotSupported(_logger, source.ToString(), Escape(method));
    }

    public void SourceBlocked(SourceAddress source)
    {
        Record(SecurityEventKind.SourceBlocked);
        if (_logger.IsEnabled(LogLevel.Warning) && ShouldLog(source))
            LogSourceBlocked(_logger, source.ToString());
    }

    private bool ShouldLog(SourceAddress source)
    {
        if (!_limiter.TryLog(source, _time.GetUtcNow().ToUnixTimeMilliseconds(), out var suppressed))
            return false;
        if (suppressed > 0)
            _logger.LogLinesSuppressed(suppressed, source.ToString());
        return true;
    }

    private static string Escape(ReadOnlySpan<byte> wire) => LogText.Escape(wire, 128);

    private static string ToTag(SecurityEventKind kind) => kind switch
    {
        SecurityEventKind.InvalidEndpoint => "invalid_endpoint",
        SecurityEventKind.AclRejected => "acl_rejected",
        SecurityEventKind.ChallengeSent => "challenge_sent",
        SecurityEventKind.AuthenticationFailed => "auth_failed",
        SecurityEventKind.AuthenticationSucceeded => "auth_succeeded",
        SecurityEventKind.RequestNotSupported => "request_not_supported",
        _ => "source_blocked",
    };

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Request from {Source} for unknown user '{User}' met the artificial endpoint")]
    private static partial void LogInvalidEndpoint(ILogger logger, string source, string user);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Request from {Source} rejected by the ACL of {Endpoint}")]
    private static partial void LogAclRejected(ILogger logger, string source, string endpoint);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Debug, Message = "Challenge sent to {Source} for {Endpoint}")]
    private static partial void LogChallengeSent(ILogger logger, string source, string endpoint);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Warning, Message = "Authentication from {Source} failed for {Endpoint}: {Reason}")]
    private static partial void LogAuthenticationFailed(ILogger logger, string source, string endpoint, string reason);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Debug, Message = "Authentication from {Source} succeeded for {Endpoint}")]
    private static partial void LogAuthenticationSucceeded(ILogger logger, string source, string endpoint);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Information, Message = "Request {Method} from {Source} is not supported")]
    private static partial void LogRequestNotSupported(ILogger logger, string source, string method);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Warning, Message = "Source {Source} is blocked for flooding")]
    private static partial void LogSourceBlocked(ILogger logger, string source);
}
