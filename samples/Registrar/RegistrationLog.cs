using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Hosting;

namespace Samples.Registrar;

/// <summary>
/// Logs each binding as the registrar stores or removes it. The registrar answers 200 only once
/// the binding is written, and the store tells its observers of every write: nothing here has to
/// look at SIP messages.
/// </summary>
internal sealed partial class RegistrationLog(ILogger<RegistrationLog> logger) : IPjSharpComponent, IObjectObserver
{
    private IDisposable? _subscription;

    public Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        _subscription = server.Store.AddObserver<Contact>(this);
        return Task.CompletedTask;
    }

    public Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        return Task.CompletedTask;
    }

    public void Created(ObjectChange change)
    {
        if (change.Value is Contact contact)
            LogRegistered(logger, contact.Aor, contact.Uri, contact.ExpirationTime);
    }

    public void Deleted(ObjectChange change)
    {
        if (change.Value is Contact contact)
            LogUnregistered(logger, contact.Aor, contact.Uri);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Aor} registered {Uri} until {Expires:u}")]
    private static partial void LogRegistered(ILogger logger, string aor, string uri, DateTimeOffset expires);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "{Aor} removed {Uri}")]
    private static partial void LogUnregistered(ILogger logger, string aor, string uri);
}
