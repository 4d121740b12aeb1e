using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using PjSharp.Interception.Trace;

namespace PjSharp.Hosting.Admin;

/// <summary>
/// The local admin endpoint: a Unix domain socket (mode 0600: only the server's user) on which
/// <c>pjsharp show --server</c> and <c>pjsharp trace</c> send one JSON request line and read JSON
/// lines back (see <see cref="AdminProtocol"/>). Everything runs on the thread pool; a live trace
/// reads a bounded feed that drops, never waits. A client that misbehaves or goes away only ends
/// its own connection; at most <see cref="PjSharpAdminOptions.MaxConnections"/> are served at once.
/// </summary>
public sealed partial class AdminComponent(IServiceProvider services, ILoggerFactory loggerFactory) : IPjSharpComponent, IAsyncDisposable
{
    /// <summary>The longest request line read; requests are small.</summary>
    internal const int MaxRequestBytes = 16 * 1024;

    /// <summary>How long a client has to send its request line.</summary>
    internal static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private readonly ILogger _logger = loggerFactory.CreateLogger("PjSharp.Admin");
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private PjSharpServer? _server;
    private Socket? _listener;
    private SemaphoreSlim? _slots;
    private Task _accepting = Task.CompletedTask;
    private long _served;

    /// <summary>The socket the endpoint listens on; null when it is off or could not open.</summary>
    public string? SocketPath { get; private set; }

    /// <summary>Connections accepted so far.</summary>
    public long ConnectionsServed => Interlocked.Read(ref _served);

    public async Task StartAsync(PjSharpServer server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        var options = server.Options.Admin;
        if (!options.Enabled)
            return;
        _server = server;
        var path = options.Socket ?? PjSharpAdminOptions.DefaultSocketFor(server.Options.Database);
        if (File.Exists(path))
        {
            // A socket that answers belongs to a running server; one that does not was left by a server that ended abruptly.
            if (await AnswersAsync(path, cancellationToken).ConfigureAwait(false))
            {
                LogSocketInUse(_logger, path);
                return;
            }
            File.Delete(path);
        }
        Socket listener;
        try
        {
            listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        catch (SocketException error)
        {
            LogCannotOpen(_logger, path, error.Message);
            return;
        }
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            // Nobody can connect before Listen, so the mode is right before the first client.
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            // The backlog only holds clients until they are accepted (and refused when over the limit): a
            // short one would make a burst of clients fail to connect at all.
            listener.Listen(128);
        }
        catch (Exception error) when (error is SocketException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            listener.Dispose();
            LogCannotOpen(_logger, path, error.Message);
            return;
        }
        _listener = listener;
        _slots = new SemaphoreSlim(options.MaxConnections, options.MaxConnections);
        SocketPath = path;
        _accepting = Task.Run(() => AcceptAsync(listener, _stopping.Token), CancellationToken.None);
        LogListening(_logger, path);
    }

    private static async Task<bool> AnswersAsync(string path, CancellationToken cancellationToken)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception error) when (error is SocketException or OperationCanceledException or ArgumentException)
        {
            return false;
        }
    }

    private async Task AcceptAsync(Socket listener, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception error) when (error is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (stopping.IsCancellationRequested || error is ObjectDisposedException)
                    return;
                // Out of descriptors, say: try again shortly rather than spin.
                LogAcceptFailed(_logger, error.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            Interlocked.Increment(ref _served);
            // The slot is taken here, in the order connections were accepted, not when the thread pool
            // gets to each one: a later client must not take the place of an earlier one.
            var admitted = _slots!.Wait(0, CancellationToken.None);
            var connection = ServeAsync(client, admitted, stopping);
            _connections.TryAdd(connection, 0);
            _ = connection.ContinueWith(t => _connections.TryRemove(t, out _), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket client, bool admitted, CancellationToken stopping)
    {
        await Task.Yield();
        var stream = new NetworkStream(client, ownsSocket: true);
        await using var _ = stream.ConfigureAwait(false);
        var output = new JsonLineWriter(stream);
        if (!admitted)
        {
            LogTooManyConnections(_logger, _server!.Options.Admin.MaxConnections);
            await TryWriteErrorAsync(output, $"too many admin connections (at most {_server.Options.Admin.MaxConnections}); try again later", stopping).ConfigureAwait(false);
            return;
        }
        try
        {
            var line = await ReadRequestLineAsync(stream, stopping).ConfigureAwait(false);
            if (line == null)
                return;
            AdminRequest request;
            try
            {
                request = AdminProtocol.ParseRequest(line);
            }
            catch (AdminProtocolException invalid)
            {
                LogBadRequest(_logger, invalid.Message);
                await TryWriteErrorAsync(output, invalid.Message, stopping).ConfigureAwait(false);
                await CloseGentlyAsync(client, stream).ConfigureAwait(false);
                return;
            }
            switch (request)
            {
                case ShowRequest show:
                    await ShowAsync(show, output, stopping).ConfigureAwait(false);
                    break;
                case TraceRequest trace:
                    await TraceAsync(trace, stream, output, stopping).ConfigureAwait(false);
                    break;
            }
        }
        catch (AdminProtocolException invalid)
        {
            LogBadRequest(_logger, invalid.Message);
            await TryWriteErrorAsync(output, invalid.Message, stopping).ConfigureAwait(false);
            await CloseGentlyAsync(client, stream).ConfigureAwait(false);
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away, or the server is stopping: nothing to tell anyone.
        }
#pragma warning disable CA1031 // One client's failure must not reach the accept loop or the server.
        catch (Exception error)
#pragma warning restore CA1031
        {
            LogConnectionFailed(_logger, error);
            await TryWriteErrorAsync(output, "internal error: " + error.Message, stopping).ConfigureAwait(false);
        }
        finally
        {
            _slots!.Release();
        }
    }

    /// <summary>The request line, or null when the client closed first; throws on a line too long or too slow.</summary>
    private static async Task<string?> ReadRequestLineAsync(Stream stream, CancellationToken stopping)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(RequestTimeout);
        var buffer = ArrayPool<byte>.Shared.Rent(MaxRequestBytes);
        try
        {
            var length = 0;
            while (true)
            {
                int read;
                try
                {
                    read = await stream.ReadAsync(buffer.AsMemory(length, MaxRequestBytes - length), timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                {
                    throw new AdminProtocolException($"no request line within {RequestTimeout.TotalSeconds:0} s");
                }
                if (read == 0)
                    return length == 0 ? null : Encoding.UTF8.GetString(buffer, 0, length);
                var newline = Array.IndexOf(buffer, (byte)'\n', length, read);
                length += read;
                if (newline >= 0)
                    return Encoding.UTF8.GetString(buffer, 0, newline).TrimEnd('\r');
                if (length == MaxRequestBytes)
                    throw new AdminProtocolException($"request line longer than {MaxRequestBytes} bytes");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task ShowAsync(ShowRequest request, JsonLineWriter output, CancellationToken stopping)
    {
        var table = await ServerTables.BuildAsync(_server!, services, request.Kind, stopping).ConfigureAwait(false);
        output.Write(w =>
        {
            w.WriteStartObject("table");
            w.WriteString("title", table.Title);
            w.WriteStartArray("columns");
            foreach (var column in table.Columns)
                w.WriteStringValue(column);
            w.WriteEndArray();
            w.WriteNumber("rows", table.Rows.Count);
            w.WriteEndObject();
        });
        foreach (var row in table.Rows)
        {
            output.Write(w =>
            {
                w.WriteStartArray("row");
                foreach (var cell in row)
                    w.WriteStringValue(cell);
                w.WriteEndArray();
            });
            if (output.Buffered > 64 * 1024)
                await output.FlushAsync(stopping).ConfigureAwait(false);
        }
        output.Write(w => w.WriteNumber("end", table.Rows.Count));
        await output.FlushAsync(stopping).ConfigureAwait(false);
    }

    private async Task TraceAsync(TraceRequest request, NetworkStream stream, JsonLineWriter output, CancellationToken stopping)
    {
        var trace = _server!.Trace;
        using var subscription = trace.Subscribe(request.Filter, _server.Options.Admin.TraceBufferMessages);
        using var gone = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        // The client sends nothing more; end of its stream means it left, even while no message flows.
        var watch = WatchForCloseAsync(stream, gone);
        output.Write(w => w.WriteBoolean("tracing", true));
        await output.FlushAsync(stopping).ConfigureAwait(false);
        var reported = 0L;
        var reader = subscription.Messages;
        try
        {
            while (await reader.WaitToReadAsync(gone.Token).ConfigureAwait(false))
            {
                while (output.Buffered < 64 * 1024 && reader.TryRead(out var message))
                    output.Write(w => AdminProtocol.WriteMessage(w, message));
                var dropped = subscription.Dropped;
                if (dropped != reported)
                {
                    reported = dropped;
                    output.Write(w => w.WriteNumber("dropped", dropped));
                }
                await output.FlushAsync(gone.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (gone.IsCancellationRequested)
        {
        }
        if (stopping.IsCancellationRequested || reader.Completion.IsCompleted)
        {
            output.Write(w =>
            {
                w.WriteStartObject("end");
                w.WriteString("reason", "server stopping");
                w.WriteNumber("dropped", subscription.Dropped);
                w.WriteEndObject();
            });
            // A client that stopped reading does not hold up the shutdown.
            using var lastWrite = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await output.FlushAsync(lastWrite.Token).ConfigureAwait(false);
        }
        await gone.CancelAsync().ConfigureAwait(false);
        await watch.ConfigureAwait(false);
    }

    private static async Task WatchForCloseAsync(NetworkStream stream, CancellationTokenSource gone)
    {
        var buffer = new byte[256];
        try
        {
            while (await stream.ReadAsync(buffer, gone.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        await gone.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Ends a connection whose request was refused: closing with unread input would make the client's
    /// read fail before it sees the error, so what it still sends is read (and dropped) briefly first.
    /// </summary>
    private static async Task CloseGentlyAsync(Socket client, NetworkStream stream)
    {
        try
        {
            client.Shutdown(SocketShutdown.Send);
            using var linger = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                var total = 0;
                int read;
                while (total < 1024 * 1024 && (read = await stream.ReadAsync(buffer, linger.Token).ConfigureAwait(false)) > 0)
                    total += read;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    private static async Task TryWriteErrorAsync(JsonLineWriter output, string message, CancellationToken stopping)
    {
        try
        {
            output.Write(w => w.WriteString("error", message));
            await output.FlushAsync(stopping).ConfigureAwait(false);
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    public async Task StopAsync(PjSharpServer server, TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        if (_listener == null)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _accepting.ConfigureAwait(false);
            await Task.WhenAll(_connections.Keys).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is TimeoutException or OperationCanceledException)
        {
        }
        if (SocketPath != null)
        {
            try
            {
                File.Delete(SocketPath);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
            }
        }
        _listener = null;
    }

    public ValueTask DisposeAsync()
    {
        _listener?.Dispose();
        _stopping.Dispose();
        _slots?.Dispose();
        return ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Admin endpoint listening on {Path}")]
    private static partial void LogListening(ILogger logger, string path);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Admin endpoint off: {Path} belongs to a server that is running (set PjSharp:Admin:Socket or --admin-socket)")]
    private static partial void LogSocketInUse(ILogger logger, string path);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Admin endpoint off: cannot listen on {Path}: {Reason}")]
    private static partial void LogCannotOpen(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Admin endpoint: a client was refused, {Max} connections are open already")]
    private static partial void LogTooManyConnections(ILogger logger, int max);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Debug, Message = "Admin endpoint: bad request: {Reason}")]
    private static partial void LogBadRequest(ILogger logger, string reason);

    [LoggerMessage(EventId = 4107, Level = LogLevel.Warning, Message = "Admin endpoint: accepting a client failed: {Reason}")]
    private static partial void LogAcceptFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Error, Message = "Admin endpoint: a request failed")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception);
}
