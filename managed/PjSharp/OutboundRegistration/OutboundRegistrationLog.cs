using Microsoft.Extensions.Logging;

namespace PjSharp.OutboundRegistration;

/// <summary>Log messages of outbound registrations, event ids 1301-1320.</summary>
internal static partial class OutboundRegistrationLog
{
    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Outbound registration '{Registration}' starting towards {Server} in {Delay} s")]
    public static partial void Starting(this ILogger logger, string registration, string server, double delay);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "Outbound registration '{Registration}' registered with {Server} for {Expiration} s")]
    public static partial void Registered(this ILogger logger, string registration, string server, uint expiration);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "Outbound registration '{Registration}': {Server} answered {Status} {Reason} ({Failure}); retry {Retries} in {Delay} s")]
    public static partial void Retrying(this ILogger logger, string registration, string server, int status, string reason, RegistrationFailure failure, double delay, uint retries);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Error, Message = "Outbound registration '{Registration}': {Server} answered {Status} {Reason} ({Failure}) after {Retries} retries; stopped trying")]
    public static partial void Rejected(this ILogger logger, string registration, string server, int status, string reason, RegistrationFailure failure, uint retries);

    [LoggerMessage(EventId = 1305, Level = LogLevel.Information, Message = "Outbound registration '{Registration}' unregistered from {Server}: {Status}")]
    public static partial void Unregistered(this ILogger logger, string registration, string server, int status);

    [LoggerMessage(EventId = 1306, Level = LogLevel.Warning, Message = "Outbound registration '{Registration}': REGISTER to {Server} not sent: {Error}")]
    public static partial void SendFailed(this ILogger logger, string registration, string server, string error);

    [LoggerMessage(EventId = 1307, Level = LogLevel.Error, Message = "Outbound registration '{Registration}' cannot start")]
    public static partial void StartFailed(this ILogger logger, Exception exception, string registration);

    [LoggerMessage(EventId = 1308, Level = LogLevel.Warning, Message = "Outbound registration '{Registration}': outbound auth '{Auth}' does not exist")]
    public static partial void AuthMissing(this ILogger logger, string registration, string auth);

    [LoggerMessage(EventId = 1309, Level = LogLevel.Error, Message = "Writing the status of outbound registration '{Registration}' failed")]
    public static partial void StatusWriteFailed(this ILogger logger, Exception exception, string registration);

    [LoggerMessage(EventId = 1310, Level = LogLevel.Warning, Message = "Outbound registration '{Registration}': {Server} granted no time; not refreshing")]
    public static partial void GrantedNothing(this ILogger logger, string registration, string server);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Information, Message = "Outbound registration '{Registration}' {Change}")]
    public static partial void Changed(this ILogger logger, string registration, string change);

    [LoggerMessage(EventId = 1312, Level = LogLevel.Error, Message = "Applying changed registration objects failed; the running registrations stay as they are")]
    public static partial void ChangesFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1313, Level = LogLevel.Error, Message = "Outbound registration '{Registration}': reading pjsip's answer failed; counted as no answer")]
    public static partial void CallbackFailed(this ILogger logger, Exception exception, string registration);
}
