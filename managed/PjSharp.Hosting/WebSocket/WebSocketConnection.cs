using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PjSharp.Transports.WebSocket;

namespace PjSharp.Hosting.WebSocket;

/// <summary>
/// One accepted WebSocket with its pjsip transport: a receive loop that feeds each frame to pjsip
/// and a send loop that drains a bounded queue, so pjsip's sends never wait for the socket.
/// </summary>
internal sealed partial class WebSocketConnection : IWebSocketSipConnection, IDisposable
{
    private readonly System.Net.WebSockets.WebSocket _socket;
    private readonly PjSharpWebSocketOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<byte[]> _outgoing;
    private readonly CancellationTokenSource _closing = new();
    // 0 until a close begins, then the close status to send (guarded by locking _outgoing).
    private int _closeStatus;
    private string _closeDescription = "";

    public WebSocketConnection(System.Net.WebSockets.WebSocket socket, IPEndPoint remote, PjSharpWebSocketOptions options, ILogger logger)
    {
        _socket = socket;
        Remote = remote;
        _options = options;
        _logger = logger;
        _outgoing = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(options.SendQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public IPEndPoint Remote { get; }

    public WebSocketSipTransport? Transport { get; set; }

    public bool TrySend(ReadOnlySpan<byte> message)
    {
        if (_outgoing.Writer.TryWrite(message.ToArray()))
            return true;
        if (Volatile.Read(ref _closeStatus) != 0)
            return false;
        // A peer that cannot keep up is closed rather than buffered without end.
        LogSendQueueFull(_logger, Remote);
        BeginClose(WebSocketCloseStatus.PolicyViolation, "send queue full");
        return false;
    }

    public void RequestClose() => BeginClose(WebSocketCloseStatus.NormalClosure, "");

    /// <summary>
    /// Closes gracefully: what is queued is sent, then the close frame (by the send loop, the socket's only
    /// writer); the peer has <see cref="PjSharpWebSocketOptions.WriteTimeout"/> to answer before the socket is aborted.
    /// </summary>
    private void BeginClose(WebSocketCloseStatus status, string description)
    {
        lock (_outgoing)
        {
            if (_closeStatus != 0)
                return;
            _closeDescription = description;
            Volatile.Write(ref _closeStatus, (int)status);
        }
        _outgoing.Writer.TryComplete();
        try
        {
            _closing.CancelAfter(_options.WriteTimeout);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Runs until the socket closes, the peer idles out, a frame is too big, or <paramref name="stopping"/>.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _closing.Token);
        var sending = SendLoopAsync(linked.Token);
        using var idle = TimeProvider.System.CreateTimer(_ =>
        {
            LogIdle(_logger, Remote);
            BeginClose(WebSocketCloseStatus.NormalClosure, "idle");
        }, null, _options.IdleTimeout, Timeout.InfiniteTimeSpan);
        try
        {
            await ReceiveLoopAsync(idle, linked.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is OperationCanceledException or WebSocketException or IOException)
        {
            LogClosedByError(_logger, Remote, error.Message);
        }
        finally
        {
            BeginClose(WebSocketCloseStatus.NormalClosure, "");
            try
            {
                await sending.ConfigureAwait(false);
            }
            catch (Exception error) when (error is OperationCanceledException or WebSocketException or IOException)
            {
                LogClosedByError(_logger, Remote, error.Message);
            }
            if (_socket.State is not (WebSocketState.Closed or WebSocketState.Aborted))
                _socket.Abort();
        }
    }

    public void Dispose() => _closing.Dispose();

    private async Task ReceiveLoopAsync(ITimer idle, CancellationToken cancellationToken)
    {
        var max = _options.MaxFrameBytes;
        // Most SIP messages fit a small buffer; an idle connection should not hold one of pjsip's maximum size.
        var buffer = ArrayPool<byte>.Shared.Rent(SmallBuffer);
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                        buffer = Grow(buffer, Math.Min(max + 1, buffer.Length * 2));
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length, Math.Min(buffer.Length, max + 1) - length), cancellationToken).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                        return;
                    length += result.Count;
                    if (length > max)
                    {
                        LogFrameTooBig(_logger, Remote, max);
                        BeginClose(WebSocketCloseStatus.MessageTooBig, "frame too big");
                        // The rest of the frame and anything after it are read and dropped until the peer's close.
                        while ((await _socket.ReceiveAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false)).MessageType != WebSocketMessageType.Close)
                        {
                        }
                        return;
                    }
                }
                while (!result.EndOfMessage);
                idle.Change(_options.IdleTimeout, Timeout.InfiniteTimeSpan);
                if (Volatile.Read(ref _closeStatus) != 0)
                    continue;
                var outcome = Transport!.Receive(buffer.AsSpan(0, length));
                if (outcome == SipFrameResult.Closed)
                    return;
                if (outcome != SipFrameResult.Accepted)
                    LogDropped(_logger, Remote, length);
                if (buffer.Length > SmallBuffer)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(SmallBuffer);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private const int SmallBuffer = 2048;

    private static byte[] Grow(byte[] buffer, int size)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(size);
        buffer.AsSpan().CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        return bigger;
    }

    private async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        await foreach (var message in _outgoing.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.WriteTimeout);
            try
            {
                await _socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                LogWriteTimeout(_logger, Remote);
                _socket.Abort();
                return;
            }
        }
        var status = Volatile.Read(ref _closeStatus);
        if (status != 0 && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            await _socket.CloseOutputAsync((WebSocketCloseStatus)status, _closeDescription, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1605, Level = LogLevel.Information, Message = "WebSocket {Remote}: a frame of more than {Max} bytes; closed with 1009")]
    private static partial void LogFrameTooBig(ILogger logger, IPEndPoint remote, int max);

    [LoggerMessage(EventId = 1606, Level = LogLevel.Debug, Message = "WebSocket {Remote}: a frame of {Length} bytes is not a SIP message; dropped")]
    private static partial void LogDropped(ILogger logger, IPEndPoint remote, int length);

    [LoggerMessage(EventId = 1607, Level = LogLevel.Information, Message = "WebSocket {Remote}: idle; closed")]
    private static partial void LogIdle(ILogger logger, IPEndPoint remote);

    [LoggerMessage(EventId = 1608, Level = LogLevel.Warning, Message = "WebSocket {Remote}: its send queue is full; closed")]
    private static partial void LogSendQueueFull(ILogger logger, IPEndPoint remote);

    [LoggerMessage(EventId = 1609, Level = LogLevel.Warning, Message = "WebSocket {Remote}: a send took too long; closed")]
    private static partial void LogWriteTimeout(ILogger logger, IPEndPoint remote);

    [LoggerMessage(EventId = 1610, Level = LogLevel.Debug, Message = "WebSocket {Remote}: closed: {Reason}")]
    private static partial void LogClosedByError(ILogger logger, IPEndPoint remote, string reason);
}
