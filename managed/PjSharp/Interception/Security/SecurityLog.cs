using Microsoft.Extensions.Logging;

namespace PjSharp.Interception.Security;

/// <summary>Log messages of the security primitives; event ids 3000-3099.</summary>
internal static partial class SecurityLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Suppressed {Count} log lines from {Source}")]
    public static partial void LogLinesSuppressed(this ILogger logger, long count, string source);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Suppressed {Count} log lines from other sources")]
    public static partial void LogLinesSuppressedFromOthers(this ILogger logger, long count);
}
