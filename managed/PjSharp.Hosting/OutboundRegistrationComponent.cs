using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.OutboundRegistration;

namespace PjSharp.Hosting;

/// <summary>
/// Outbound registrations as a server component: when the store holds <c>registration</c> objects,
/// each registers with its registrar while the server runs; stopping sends Expires: 0 within the
/// drain timeout. Registered after the other components, so it stops first, while pjsip still runs.
/// </summary>
public sealed class OutboundRegistrationComponent : IPjSharpComponent, IAsyncDisposable
{
    private OutboundRegistrationService? _service;

    /// <summary>The service once the server has started (null when there is no registration object).</summary>
    public OutboundRegistrationService? Service => _service;

    public async Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var store = server.Store;
        if (!store.MappedTypes.Contains(Registration.Type))
            return;
        var registrations = await store.GetAllAsync<Registration>(cancellationToken).ConfigureAwait(false);
        if (registrations.Count == 0)
            return;
        _service = new OutboundRegistrationService(server.Endpoint, store, new OutboundRegistrationOptions
        {
            UserAgent = server.Interception.Directory.Global.UserAgent,
        }, server.LoggerFactory.CreateLogger("PjSharp.OutboundRegistration"));
        await _service.StartAsync(registrations, cancellationToken).ConfigureAwait(false);
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
