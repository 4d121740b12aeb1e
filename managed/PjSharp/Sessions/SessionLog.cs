using Microsoft.Extensions.Logging;

namespace PjSharp.Sessions;

/// <summary>Session log messages, with stable event ids (7001-7099).</summary>
internal static partial class SessionLog
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Error, Message = "Application code for call {CallId} threw; the call is ended (500 before the answer, BYE after)")]
    public static partial void ApplicationFailed(this ILogger logger, Exception exception, string callId);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Error, Message = "Session extension '{Extension}' threw on {Method} for call {CallId}")]
    public static partial void ExtensionFailed(this ILogger logger, Exception exception, string extension, string method, string callId);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Error, Message = "SDP handler for {MediaType} threw on call {CallId}")]
    public static partial void SdpHandlerFailed(this ILogger logger, Exception exception, string mediaType, string callId);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Warning, Message = "Media negotiation failed on call {CallId}: {Reason}")]
    public static partial void MediaNegotiationFailed(this ILogger logger, string callId, string reason);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Warning, Message = "Session servant for call {CallId} is full; answered 503")]
    public static partial void ServantFull(this ILogger logger, string callId);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Information, Message = "Call {CallId} to '{Target}' rejected with {Status}: {Reason}")]
    public static partial void CallRejected(this ILogger logger, string callId, string target, int status, string reason);

    [LoggerMessage(EventId = 7007, Level = LogLevel.Error, Message = "Setting up call {CallId} failed; answered 500")]
    public static partial void SetupFailed(this ILogger logger, Exception exception, string callId);

    [LoggerMessage(EventId = 7008, Level = LogLevel.Error, Message = "Session callback {Callback} failed")]
    public static partial void CallbackFailed(this ILogger logger, Exception exception, string callback);

    [LoggerMessage(EventId = 7009, Level = LogLevel.Debug, Message = "Call {CallId} ({Direction}) ended: {Status} {Reason}")]
    public static partial void SessionEnded(this ILogger logger, string callId, SessionDirection direction, int status, string reason);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Debug, Message = "Call {CallId}: audio {Mode}, local {LocalPort}, remote {RemoteAddress}:{RemotePort}, {Direction}, codec {Codec}")]
    public static partial void AudioStarted(this ILogger logger, string callId, string mode, int localPort, string? remoteAddress, int remotePort, Media.SdpDirection direction, string? codec);
}
