using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PjSharp.Transports;
using PjSharp.Transports.WebSocket;

namespace PjSharp.Hosting.WebSocket;

/// <summary>
/// SIP over WebSocket (RFC 7118), the behaviour of Asterisk's res_pjsip_transport_websocket: a
/// Kestrel listener per <c>ws</c>/<c>wss</c> transport accepts upgrades with the <c>sip</c>
/// subprotocol on <see cref="PjSharpWebSocketOptions.Path"/> and registers each connection with
/// pjsip as its own transport. When a connection closes its transport goes, and so do the bindings
/// registered over it.
/// </summary>
internal sealed partial class WebSocketComponent(RegistrarComponent registrar, SessionsComponent sessions) : IPjSharpComponent, IAsyncDisposable
{
    private const string SubProtocol = "sip";
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private PjSharpServer? _server;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    private int _open;
    private long _accepted;
    private long _refused;
    private System.Diagnostics.Metrics.Counter<long>? _acceptedCounter;
    private System.Diagnostics.Metrics.Counter<long>? _refusedCounter;

    /// <summary>Connections open now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Connections accepted since start.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Upgrades refused (limits, origin, subprotocol).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public async Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        var transports = server.WebSocketTransports;
        if (transports.Count == 0)
            return;
        _server = server;
        _logger = server.LoggerFactory.CreateLogger("PjSharp.WebSocket");
        WebSocketSipTransport.RegisterTypes();
        // Browsers' .invalid Contacts become their connection's address before dialogs see them.
        server.Register(new WebSocketContactRewriter());
        var options = server.Options.WebSocket;
        server.Meter.CreateObservableGauge("pjsharp.websocket.connections", () => OpenConnections, "{connection}", "Open SIP WebSocket connections");
        _acceptedCounter = server.Meter.CreateCounter<long>("pjsharp.websocket.accepted", "{connection}", "SIP WebSocket connections accepted");
        _refusedCounter = server.Meter.CreateCounter<long>("pjsharp.websocket.refused", "{connection}", "SIP WebSocket upgrades refused, by reason");

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseKestrelHttpsConfiguration();
        builder.Services.AddSingleton(server.LoggerFactory);
        // The server's own host owns the process's lifetime and signals; this listener only follows it.
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            foreach (var transport in transports)
            {
                kestrel.Listen(transport.Bind, listen =>
                {
                    if (transport.Protocol == SipTransportProtocol.Wss)
                        listen.UseHttps(LoadCertificate(transport));
                });
            }
        });
        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = options.KeepAliveInterval });
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
        foreach (var url in app.Urls)
        {
            var uri = new Uri(url);
            var protocol = uri.Scheme == Uri.UriSchemeHttps ? SipTransportProtocol.Wss : SipTransportProtocol.Ws;
            var address = IPAddress.TryParse(uri.Host.Trim('[', ']'), out var parsed) ? parsed : IPAddress.Any;
            var info = new SipTransportInfo(protocol, new IPEndPoint(address, uri.Port));
            server.AddListening(info);
            LogListening(_logger, info, options.Path);
        }
    }

    private static X509Certificate2 LoadCertificate(SipTransportOptions transport)
    {
        var tls = transport.Tls;
        if (tls?.CertificateFile is not { Length: > 0 } certificate)
            throw new InvalidOperationException($"Transport {transport} needs a certificate (TlsCertificateFile or the transport's cert_file).");
        return tls.PrivateKeyFile is { Length: > 0 } key
            ? X509Certificate2.CreateFromPemFile(certificate, key)
            : X509Certificate2.CreateFromPemFile(certificate);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var server = _server!;
        var options = server.Options.WebSocket;
        var remoteAddress = context.Connection.RemoteIpAddress ?? IPAddress.None;
        if (remoteAddress.IsIPv4MappedToIPv6)
            remoteAddress = remoteAddress.MapToIPv4();
        var remote = new IPEndPoint(remoteAddress, context.Connection.RemotePort);
        if (!string.Equals(context.Request.Path.Value, options.Path, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            return;
        }
        var origin = context.Request.Headers.Origin.ToString();
        if (origin.Length > 0 && options.AllowedOrigins.Count > 0 && !options.AllowedOrigins.Contains(origin.TrimEnd('/'), StringComparer.OrdinalIgnoreCase))
        {
            Refuse(context, StatusCodes.Status403Forbidden);
            LogOriginRefused(_logger, remote, origin);
            return;
        }
        if (!context.WebSockets.WebSocketRequestedProtocols.Contains(SubProtocol, StringComparer.OrdinalIgnoreCase))
        {
            Refuse(context, StatusCodes.Status400BadRequest);
            LogSubProtocolRefused(_logger, remote);
            return;
        }
        if (!TryReserve(remoteAddress, options))
        {
            Refuse(context, StatusCodes.Status503ServiceUnavailable);
            LogLimitRefused(_logger, remote);
            return;
        }
        try
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                SubProtocol = SubProtocol,
                KeepAliveInterval = options.KeepAliveInterval,
            }).ConfigureAwait(false);
            Interlocked.Increment(ref _accepted);
            _acceptedCounter?.Add(1);
            var localAddress = context.Connection.LocalIpAddress ?? IPAddress.Any;
            var local = new IPEndPoint(localAddress, context.Connection.LocalPort);
            using var connection = new WebSocketConnection(socket, remote, options, _logger);
            var transport = WebSocketSipTransport.Create(server.Endpoint, context.Request.IsHttps, local, remote, connection);
            connection.Transport = transport;
            LogOpened(_logger, transport);
            try
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
                await connection.RunAsync(linked.Token).ConfigureAwait(false);
            }
            finally
            {
                transport.Close();
                registrar.Service?.RemoveConnectionBindings(transport.RemoteEndPoint);
                sessions.Service?.EndSessionsOnConnection(transport.RemoteEndPoint);
                LogClosed(_logger, transport);
            }
        }
        finally
        {
            Release(remoteAddress);
        }
    }

    private void Refuse(HttpContext context, int status)
    {
        Interlocked.Increment(ref _refused);
        _refusedCounter?.Add(1, new KeyValuePair<string, object?>("status", status));
        context.Response.StatusCode = status;
    }

    private bool TryReserve(IPAddress address, PjSharpWebSocketOptions options)
    {
        lock (_gate)
        {
            _perAddress.TryGetValue(address, out var count);
            if (_open >= options.MaxConnections || count >= options.MaxConnectionsPerAddress)
                return false;
            _perAddress[address] = count + 1;
            _open++;
            return true;
        }
    }

    private void Release(IPAddress address)
    {
        lock (_gate)
        {
            _open--;
            if (_perAddress.TryGetValue(address, out var count) && count > 1)
                _perAddress[address] = count - 1;
            else
                _perAddress.Remove(address);
        }
    }

    public async Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        if (_app == null)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(drainTimeout);
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app != null)
            await _app.DisposeAsync().ConfigureAwait(false);
        _app = null;
        _stopping.Dispose();
    }

    private sealed class EmbeddedLifetime : Microsoft.Extensions.Hosting.IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "SIP over WebSocket on {Transport}, path {Path}")]
    private static partial void LogListening(ILogger logger, SipTransportInfo transport, string path);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Debug, Message = "WebSocket connection {Transport} opened")]
    private static partial void LogOpened(ILogger logger, WebSocketSipTransport transport);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Debug, Message = "WebSocket connection {Transport} closed")]
    private static partial void LogClosed(ILogger logger, WebSocketSipTransport transport);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Information, Message = "WebSocket upgrade from {Remote} refused: too many connections")]
    private static partial void LogLimitRefused(ILogger logger, IPEndPoint remote);

    [LoggerMessage(EventId = 1611, Level = LogLevel.Information, Message = "WebSocket upgrade from {Remote} refused: origin '{Origin}' is not allowed")]
    private static partial void LogOriginRefused(ILogger logger, IPEndPoint remote, string origin);

    [LoggerMessage(EventId = 1612, Level = LogLevel.Information, Message = "WebSocket upgrade from {Remote} refused: it does not offer the sip subprotocol")]
    private static partial void LogSubProtocolRefused(ILogger logger, IPEndPoint remote);
}
