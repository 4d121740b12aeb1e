using Microsoft.Extensions.Logging;

namespace PjSharp.Interception.Security;

/// <summary>Log messages of the security primitives; event ids 6010-6019.</summary>
internal static partial class SecurityLog
{
    [LoggerMessage(EventId = 6010, Level = LogLevel.Warning, Message = "Suppressed {Count} log lines from {Source}")]
    public static partial void LogLinesSuppressed(this ILogger logger, long count, string source);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Warning, Message = "Suppressed {Count} log lines from other sources")]
    public static partial void LogLinesSuppressedFromOthers(this ILogger logger, long count);
}
