using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using PjSharp.Messaging;
using PjSharp.Servants;

namespace PjSharp.Hosting;

/// <summary>
/// Out-of-dialog MESSAGE relay as a server component: one servant queue per AOR. Stopping drains the
/// queues, so each message accepted gets its answer.
/// </summary>
internal sealed class MessagingComponent(IMeterFactory meterFactory) : IPjSharpComponent, IAsyncDisposable
{
    private ServantDispatcher<string>? _servants;
    private MessagingService? _service;

    public MessagingService? Service => _service;

    public Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        if (!server.Options.Messaging)
            return Task.CompletedTask;
        var loggers = server.LoggerFactory;
        _servants = new ServantDispatcher<string>(new ServantOptions { Name = "messaging" }, meterFactory, loggers.CreateLogger("PjSharp.Servants"));
        _service = new MessagingService(server.Endpoint, server.Interception, server.Contacts, _servants,
            new MessagingOptions { MaxBodyBytes = server.Options.MessageMaxBodyBytes },
            loggers.CreateLogger("PjSharp.Messaging"));
        server.Register(_service);
        return Task.CompletedTask;
    }

    public async Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        if (_service == null)
            return;
        await _servants!.DrainAsync(drainTimeout, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _service?.Dispose();
        if (_servants != null)
            await _servants.DisposeAsync().ConfigureAwait(false);
    }
}
