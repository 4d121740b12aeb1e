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
        // A peer that cannot keep up is closed rather than buffered without end.
        LogSendQueueFull(_logger, Remote);
        RequestClose();
        return false;
    }

    public void RequestClose()
    {
        _outgoing.Writer.TryComplete();
        try
        {
            _closing.Cancel();
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
        try
        {
            await ReceiveLoopAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is OperationCanceledException or WebSocketException or IOException)
        {
            LogClosedByError(_logger, Remote, error.Message);
        }
        finally
        {
            _outgoing.Writer.TryComplete();
            await linked.CancelAsync().ConfigureAwait(false);
            try
            {
                await sending.ConfigureAwait(false);
            }
            catch (Exception error) when (error is OperationCanceledException or WebSocketException or IOException)
            {
            }
            if (_socket.State is not (WebSocketState.Closed or WebSocketState.Aborted))
                _socket.Abort();
        }
    }

    public void Dispose() => _closing.Dispose();

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var max = _options.MaxFrameBytes;
        // Most SIP messages fit a small buffer; an idle connection should not hold one of pjsip's maximum size.
        var buffer = ArrayPool<byte>.Shared.Rent(SmallBuffer);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    idle.CancelAfter(_options.IdleTimeout);
                    do
                    {
                        try
                        {
                            if (length == buffer.Length)
                                buffer = Grow(buffer, Math.Min(max + 1, buffer.Length * 2));
                            result = await _socket.ReceiveAsync(buffer.AsMemory(length, Math.Min(buffer.Length, max + 1) - length), idle.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                        {
                            LogIdle(_logger, Remote);
                            await CloseAsync(WebSocketCloseStatus.NormalClosure, "idle").ConfigureAwait(false);
                            return;
                        }
                        if (result.MessageType == WebSocketMessageType.Close)
                        {
                            await CloseAsync(WebSocketCloseStatus.NormalClosure, "").ConfigureAwait(false);
                            return;
                        }
                        length += result.Count;
                        if (length > max)
                        {
                            LogFrameTooBig(_logger, Remote, max);
                            await CloseAsync(WebSocketCloseStatus.MessageTooBig, "frame too big").ConfigureAwait(false);
                            return;
                        }
                    }
                    while (!result.EndOfMessage);
                }
                var transport = Transport!;
                var outcome = transport.Receive(buffer.AsSpan(0, length));
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

    private async Task CloseAsync(WebSocketCloseStatus status, string description)
    {
        _outgoing.Writer.TryComplete();
        using var timeout = new CancellationTokenSource(_options.WriteTimeout);
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await _socket.CloseOutputAsync(status, description, timeout.Token).ConfigureAwait(false);
            // Wait for the peer's close (what it still sends is discarded), so ours is delivered before the connection goes.
            var discard = ArrayPool<byte>.Shared.Rent(4096);
            try
            {
                while (_socket.State == WebSocketState.CloseSent)
                {
                    var result = await _socket.ReceiveAsync(discard.AsMemory(), timeout.Token).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                        break;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(discard);
            }
        }
        catch (Exception error) when (error is OperationCanceledException or WebSocketException or IOException)
        {
            LogClosedByError(_logger, Remote, error.Message);
        }
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
                RequestClose();
                return;
            }
        }
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
