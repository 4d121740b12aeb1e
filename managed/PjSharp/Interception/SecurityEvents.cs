using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

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
public sealed partial class SecurityEvents
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Counter<long>? _counter;
    private readonly long[] _counts = new long[Enum.GetValues<SecurityEventKind>().Length];
    private static readonly KeyValuePair<string, object?>[] Tags =
        [.. Enum.GetValues<SecurityEventKind>().Select(k => new KeyValuePair<string, object?>("event", ToTag(k)))];

    public SecurityEvents(ILogger logger, Meter? meter = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _counter = meter?.CreateCounter<long>("pjsharp.security.events", description: "Security events by kind");
    }

    /// <summary>How many events of <paramref name="kind"/> happened.</summary>
    public long Count(SecurityEventKind kind) => Volatile.Read(ref _counts[(int)kind]);

    private bool Record(SecurityEventKind kind, SourceAddress source)
    {
        Interlocked.Increment(ref _counts[(int)kind]);
        _counter?.Add(1, Tags[(int)kind]);
        return ShouldLog(source);
    }

    public void InvalidEndpoint(SourceAddress source, ReadOnlySpan<byte> user)
    {
        if (Record(SecurityEventKind.InvalidEndpoint, source) && _logger.IsEnabled(LogLevel.Warning))
            LogInvalidEndpoint(_logger, source.ToString(), Escape(user));
    }

    public void AclRejected(SourceAddress source, string? endpoint)
    {
        if (Record(SecurityEventKind.AclRejected, source) && _logger.IsEnabled(LogLevel.Warning))
            LogAclRejected(_logger, source.ToString(), endpoint ?? "(global)");
    }

    public void ChallengeSent(SourceAddress source, string endpoint)
    {
        if (Record(SecurityEventKind.ChallengeSent, source) && _logger.IsEnabled(LogLevel.Debug))
            LogChallengeSent(_logger, source.ToString(), endpoint);
    }

    public void AuthenticationFailed(SourceAddress source, string endpoint, string reason)
    {
        if (Record(SecurityEventKind.AuthenticationFailed, source) && _logger.IsEnabled(LogLevel.Warning))
            LogAuthenticationFailed(_logger, source.ToString(), endpoint, reason);
    }

    public void AuthenticationSucceeded(SourceAddress source, string endpoint)
    {
        if (Record(SecurityEventKind.AuthenticationSucceeded, source) && _logger.IsEnabled(LogLevel.Debug))
            LogAuthenticationSucceeded(_logger, source.ToString(), endpoint);
    }

    public void RequestNotSupported(SourceAddress source, ReadOnlySpan<byte> method)
    {
        if (Record(SecurityEventKind.RequestNotSupported, source) && _logger.IsEnabled(LogLevel.Information))
            LogRequestNotSupported(_logger, source.ToString(), Escape(method));
    }

    public void SourceBlocked(SourceAddress source)
    {
        if (Record(SecurityEventKind.SourceBlocked, source) && _logger.IsEnabled(LogLevel.Warning))
            LogSourceBlocked(_logger, source.ToString());
    }

    private bool ShouldLog(SourceAddress source) => _counts.Length > 0 && source != default;

    private static string Escape(ReadOnlySpan<byte> wire) => System.Text.Encoding.UTF8.GetString(wire);

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

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Request from {Source} for unknown user '{User}' met the artificial endpoint")]
    private static partial void LogInvalidEndpoint(ILogger logger, string source, string user);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Request from {Source} rejected by the ACL of {Endpoint}")]
    private static partial void LogAclRejected(ILogger logger, string source, string endpoint);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug, Message = "Challenge sent to {Source} for {Endpoint}")]
    private static partial void LogChallengeSent(ILogger logger, string source, string endpoint);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Authentication from {Source} failed for {Endpoint}: {Reason}")]
    private static partial void LogAuthenticationFailed(ILogger logger, string source, string endpoint, string reason);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Debug, Message = "Authentication from {Source} succeeded for {Endpoint}")]
    private static partial void LogAuthenticationSucceeded(ILogger logger, string source, string endpoint);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "Request {Method} from {Source} is not supported")]
    private static partial void LogRequestNotSupported(ILogger logger, string source, string method);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Source {Source} is blocked for flooding")]
    private static partial void LogSourceBlocked(ILogger logger, string source);
}
