using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.OutboundRegistration;

namespace PjSharp.Hosting;

/// <summary>
/// Outbound registrations as a server component: each <c>registration</c> object of the store registers
/// with its registrar while the server runs, following reloads and database writes; stopping sends
/// Expires: 0 within the drain timeout. Registered after the other components, so it stops first,
/// while pjsip still runs.
/// </summary>
public sealed class OutboundRegistrationComponent : IPjSharpComponent, IAsyncDisposable
{
    private OutboundRegistrationService? _service;

    /// <summary>The service once the server has started (null when the store has no registration type).</summary>
    public OutboundRegistrationService? Service => _service;

    public async Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var store = server.Store;
        if (!store.MappedTypes.Contains(Registration.Type))
            return;
        // Started even without registration objects: a reload or a database write may add some.
        _service = new OutboundRegistrationService(server.Endpoint, store, new OutboundRegistrationOptions
        {
            UserAgent = server.Interception.Directory.Global.UserAgent,
            FollowChanges = true,
            ChangeUnregisterTimeout = server.Options.DrainTimeout,
        }, server.LoggerFactory.CreateLogger("PjSharp.OutboundRegistration"));
        await _service.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        if (_service != null)
            await _service.StopAsync(drainTimeout, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        // Normally stopped already (with the unregistration); this only covers a server that never stopped.
        if (_service != null)
            await _service.DisposeAsync().ConfigureAwait(false);
    }
}
