using Microsoft.Extensions.Logging;

namespace PjSharp.DataAccess.Internal;

/// <summary>Log messages of the data access layer; event ids 3000-3099 are stable.</summary>
internal static partial class Log
{
    [LoggerMessage(3000, LogLevel.Information, "Loaded {Source}: {Count} objects, {Warnings} warnings")]
    public static partial void ConfigLoaded(ILogger logger, string source, int count, int warnings);

    [LoggerMessage(3001, LogLevel.Warning, "{Diagnostic}")]
    public static partial void ConfigWarning(ILogger logger, ConfigDiagnostic diagnostic);

    [LoggerMessage(3002, LogLevel.Error, "Reload of {Source} failed; the previous configuration stays in force: {Message}")]
    public static partial void ReloadFailed(ILogger logger, string source, string message);

    [LoggerMessage(3003, LogLevel.Information, "Reloaded {Source}: {Created} created, {Updated} updated, {Deleted} deleted")]
    public static partial void Reloaded(ILogger logger, string source, int created, int updated, int deleted);

    [LoggerMessage(3010, LogLevel.Error, "Observer {Observer} failed on {Kind} of {Type} '{Id}'")]
    public static partial void ObserverFailed(ILogger logger, Exception exception, string observer, string kind, string type, string id);

    [LoggerMessage(3011, LogLevel.Error, "Observer {Observer} failed on reload of {Type}")]
    public static partial void ObserverReloadFailed(ILogger logger, Exception exception, string observer, string type);

    [LoggerMessage(3020, LogLevel.Information, "{Backend}: schema migrated from version {From} to {To}")]
    public static partial void SchemaMigrated(ILogger logger, string backend, int from, int to);

    [LoggerMessage(3021, LogLevel.Warning, "{Backend}: change listener lost its connection; reconnecting")]
    public static partial void ListenerFailed(ILogger logger, Exception exception, string backend);

    [LoggerMessage(3022, LogLevel.Information, "{Backend}: listening for changes on channel {Channel}")]
    public static partial void ListenerStarted(ILogger logger, string backend, string channel);

    [LoggerMessage(3023, LogLevel.Warning, "{Backend}: ignored a malformed change notification: {Payload}")]
    public static partial void BadNotification(ILogger logger, string backend, string payload);

    [LoggerMessage(3024, LogLevel.Error, "{Backend}: stored {Type} '{Id}' does not load: {Message}")]
    public static partial void StoredObjectInvalid(ILogger logger, string backend, string type, string id, string message);

    [LoggerMessage(3025, LogLevel.Error, "{Backend} is unavailable: it cannot be {Kind} ({Message}); requests that need it are answered 503 until it is back")]
    public static partial void DatabaseUnavailable(ILogger logger, string backend, string kind, string message);

    [LoggerMessage(3026, LogLevel.Warning, "{Backend} is available again: it can be {Kind} after {Seconds:F1} s")]
    public static partial void DatabaseAvailable(ILogger logger, string backend, string kind, double seconds);

    [LoggerMessage(3031, LogLevel.Debug, "Contact writer: commit of {Writes} writes from {Requests} requests failed, the database being unavailable; every request of the batch fails")]
    public static partial void WriteBatchUnavailable(ILogger logger, int writes, int requests);

    [LoggerMessage(3027, LogLevel.Error, "SQLite database '{Path}' is read-only: it is read, but every write is answered 503 until the file is writable")]
    public static partial void OpenedReadOnly(ILogger logger, string path);

    [LoggerMessage(3030, LogLevel.Error, "Contact writer: commit of {Writes} writes from {Requests} requests failed; every request of the batch fails")]
    public static partial void WriteBatchFailed(ILogger logger, Exception exception, int writes, int requests);
}
