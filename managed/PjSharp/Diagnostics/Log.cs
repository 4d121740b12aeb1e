using Microsoft.Extensions.Logging;

namespace PjSharp.Diagnostics;

/// <summary>PjSharp's log messages, with stable event ids.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Service '{Service}' threw while handling a request; answered 500")]
    public static partial void ServiceFailed(this ILogger logger, Exception exception, string service);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Listening on {Transport}")]
    public static partial void TransportStarted(this ILogger logger, string transport);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "SIP endpoint started with {Workers} worker threads")]
    public static partial void EndpointStarted(this ILogger logger, int workers);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "SIP endpoint stopped; worker threads allocated {WorkerAllocatedBytes} managed bytes")]
    public static partial void EndpointStopped(this ILogger logger, long workerAllocatedBytes);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "Worker thread {Worker} failed polling pjsip")]
    public static partial void WorkerFailed(this ILogger logger, Exception exception, string worker);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "pjproject {Version}: {Summary}")]
    public static partial void BuildReport(this ILogger logger, string version, string summary);

    [LoggerMessage(EventId = 1007, Message = "pjproject build: {Problem}")]
    public static partial void BuildProblem(this ILogger logger, LogLevel level, string problem);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Debug, Message = "Answered malformed request from {Source} with {Status}: {Reason}")]
    public static partial void MalformedAnswered(this ILogger logger, string source, int status, string reason);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Debug, Message = "Dropped malformed data from {Source}: {Reason}")]
    public static partial void MalformedDropped(this ILogger logger, string source, string reason);

    [LoggerMessage(EventId = 2000, Message = "{Line}")]
    public static partial void NativeLine(this ILogger logger, LogLevel level, string line);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Error, Message = "Malformed-request handler failed")]
    public static partial void MalformedHandlerFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Servant '{Servant}': {Work} for key '{Key}' threw; the key's next item runs as usual")]
    public static partial void ServantItemFailed(this ILogger logger, Exception exception, string servant, string key, string work);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Debug, Message = "Servant '{Servant}': {Work} for key '{Key}' was cancelled by shutdown")]
    public static partial void ServantItemCancelled(this ILogger logger, string servant, string key, string work);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Servant '{Servant}': {Depth} items still unfinished after {Timeout}; cancelling them")]
    public static partial void ServantDrainTimedOut(this ILogger logger, string servant, int depth, TimeSpan timeout);
}
