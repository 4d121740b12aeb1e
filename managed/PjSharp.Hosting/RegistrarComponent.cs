using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Registrar;
using PjSharp.Servants;

namespace PjSharp.Hosting;

/// <summary>
/// The registrar as a server component: one servant queue per AOR, a group-commit writer for
/// contacts, and the REGISTER service. Stopping drains the queues first, so every REGISTER
/// that was accepted is written and answered.
/// </summary>
internal sealed class RegistrarComponent(IMeterFactory meterFactory) : IPjSharpComponent, IAsyncDisposable
{
    private ServantDispatcher<string>? _servants;
    private ContactWriter? _writer;
    private RegistrarService? _service;

    public RegistrarService? Service => _service;

    public ServantDispatcher<string>? Servants => _servants;

    public Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        if (!server.Options.Registrar)
            return Task.CompletedTask;
        var loggers = server.LoggerFactory;
        _servants = new ServantDispatcher<string>(new ServantOptions { Name = "registrar" }, meterFactory, loggers.CreateLogger("PjSharp.Servants"));
        _writer = new ContactWriter(server.Store, new ContactWriterOptions { LoggerFactory = loggers });
        _service = new RegistrarService(server.Endpoint, server.Interception, server.Store, _writer, _servants,
            new RegistrarOptions
            {
                NodeName = server.Options.NodeName,
                ExpiryCheckInterval = TimeSpan.FromSeconds(Math.Max(1, server.Interception.Directory.Global.ContactExpirationCheckInterval)),
            },
            loggers.CreateLogger("PjSharp.Registrar"));
        var service = _service;
        server.Meter.CreateObservableGauge("pjsharp.sip.registrations.active", () => service.ActiveBindings, "{binding}",
            "Unexpired contact bindings this node's registrar knows of");
        server.Meter.CreateObservableCounter("pjsharp.sip.registrations.accepted", () => service.Registered, "{request}", "REGISTERs answered 200");
        server.Register(_service);
        server.Contacts.Registrar = _service;
        return Task.CompletedTask;
    }

    public async Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        if (_service == null)
            return;
        // New REGISTERs get 503 from here on; those queued finish and are written.
        await _servants!.DrainAsync(drainTimeout, cancellationToken).ConfigureAwait(false);
        await _writer!.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_service != null)
            await _service.DisposeAsync().ConfigureAwait(false);
        if (_servants != null)
            await _servants.DisposeAsync().ConfigureAwait(false);
        if (_writer != null)
            await _writer.DisposeAsync().ConfigureAwait(false);
    }
}
