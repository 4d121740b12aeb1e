using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.Hosting;
using PjSharp.Hosting.WebSocket;

namespace PjSharp.Server.Tests.WebSocket;

/// <summary>The per-connection send queue: a peer that stops reading never holds up the caller (pjsip's thread).</summary>
[CancelAfter(20_000)]
public sealed class WebSocketConnectionTests
{
    /// <summary>A socket whose sends never complete (a peer that stopped reading) and that receives nothing.</summary>
    private sealed class StalledWebSocket : System.Net.WebSockets.WebSocket
    {
        private readonly CancellationTokenSource _aborted = new();
        private WebSocketState _state = WebSocketState.Open;

        public int SendsStarted;

        public override WebSocketCloseStatus? CloseStatus => null;

        public override string? CloseStatusDescription => null;

        public override WebSocketState State => _state;

        public override string? SubProtocol => "sip";

        public override void Abort()
        {
            _state = WebSocketState.Aborted;
            _aborted.Cancel();
        }

        public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) => Task.CompletedTask;

        public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Dispose() => _aborted.Dispose();

        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _aborted.Token);
            await Task.Delay(Timeout.Infinite, both.Token);
            throw new UnreachableException();
        }

        public override async Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref SendsStarted);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _aborted.Token);
            await Task.Delay(Timeout.Infinite, both.Token);
        }
    }

    [Test]
    public async Task A_stalled_peer_fills_its_queue_without_blocking_the_sender_and_is_closed()
    {
        var options = new PjSharpWebSocketOptions { SendQueueCapacity = 4, WriteTimeout = TimeSpan.FromMilliseconds(500) };
        using var socket = new StalledWebSocket();
        using var connection = new WebSocketConnection(socket, new IPEndPoint(IPAddress.Loopback, 1), options, NullLogger.Instance);
        var running = connection.RunAsync(CancellationToken.None);

        var accepted = 0;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 100; i++)
        {
            if (connection.TrySend("OPTIONS sip:x SIP/2.0\r\n\r\n"u8))
                accepted++;
        }
        var elapsed = watch.Elapsed;

        Assert.That(elapsed, Is.LessThan(TimeSpan.FromMilliseconds(200)), "sends are queued, never awaited");
        Assert.That(accepted, Is.InRange(4, 5), "the queue's capacity, plus the one the send loop took");
        Assert.That(async () => await running.WaitAsync(TimeSpan.FromSeconds(5)), Throws.Nothing, "the stalled connection ends after the write timeout");
        Assert.That(socket.State, Is.EqualTo(WebSocketState.Aborted));
        Assert.That(connection.TrySend("x"u8), Is.False);
    }
}
