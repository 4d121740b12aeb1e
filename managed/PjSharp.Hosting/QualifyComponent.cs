using PjSharp.Qualify;

namespace PjSharp.Hosting;

/// <summary>
/// Qualify as a server component: OPTIONS to the contacts of AORs with a <c>qualify_frequency</c>, and
/// <see cref="PjSharpServer.Contacts"/> leaves out those found unreachable.
/// </summary>
internal sealed class QualifyComponent : IPjSharpComponent, IAsyncDisposable
{
    private ContactQualifier? _qualifier;

    public ContactQualifier? Qualifier => _qualifier;

    public async Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        if (!server.Options.Qualify)
            return;
        _qualifier = new ContactQualifier(server.Endpoint, server.Store, new QualifyOptions
        {
            // Contacts shared with other nodes: each node probes the phones it registered.
            RegistrationServer = server.SharesContacts ? server.Options.NodeName : null,
        }, server.LoggerFactory.CreateLogger("PjSharp.Qualify"));
        await _qualifier.StartAsync(cancellationToken).ConfigureAwait(false);
        server.Contacts.IsReachable = _qualifier.IsReachable;
    }

    public async Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        // Probes in flight end by their own timeout; pjsip must still run for them to finish.
        if (_qualifier != null)
        {
            server.Contacts.IsReachable = null;
            await _qualifier.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_qualifier != null)
            await _qualifier.DisposeAsync().ConfigureAwait(false);
    }
}
