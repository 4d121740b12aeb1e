using System.Collections.Concurrent;
using System.Net;
using System.Text;
using PjSharp.Tests.Support;
using PjSharp.Transports.WebSocket;

namespace PjSharp.Tests.Transports.WebSocket;

/// <summary>The shim's WebSocket transport against a real pjsip endpoint, without a socket: frames in, printed messages out.</summary>
[NonParallelizable]
[CancelAfter(30_000)]
public sealed class WebSocketSipTransportTests
{
    private static readonly IPEndPoint Local = new(IPAddress.Loopback, 8088);

    private sealed class FakeConnection : IWebSocketSipConnection
    {
        public BlockingCollection<string> Sent { get; } = [];

        public int CloseRequests;

        public bool Accept { get; set; } = true;

        public bool TrySend(ReadOnlySpan<byte> message)
        {
            if (!Accept)
                return false;
            Sent.Add(Encoding.UTF8.GetString(message));
            return true;
        }

        public void RequestClose() => Interlocked.Increment(ref CloseRequests);
    }

    private static string Options(int port) =>
        "OPTIONS sip:127.0.0.1:8088 SIP/2.0\r\n" +
        $"Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK{Guid.NewGuid():N}\r\n" +
        "Max-Forwards: 70\r\nFrom: <sip:probe@abc.invalid>;tag=1\r\nTo: <sip:127.0.0.1:8088>\r\n" +
        $"Call-ID: {Guid.NewGuid():N}\r\nCSeq: {port} OPTIONS\r\nContent-Length: 0\r\n\r\n";

    private static async Task WaitForPoolsAsync(TestEndpoint server, long expected)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (server.Endpoint.PoolsInUse != expected && DateTime.UtcNow < deadline)
            await Task.Delay(20);
    }

    [Test]
    public async Task A_frame_is_answered_over_the_same_transport_and_closing_releases_its_pools()
    {
        using var server = new TestEndpoint();
        // The first answered request leaves one pool for good (lazily made by the endpoint); connections must leave none.
        var warm = WebSocketSipTransport.Create(server.Endpoint, secure: false, Local, new IPEndPoint(IPAddress.Loopback, 40010), new FakeConnection());
        warm.Receive(Encoding.UTF8.GetBytes(Options(1)));
        warm.Close();
        for (var wait = 0; wait < 250 && !warm.IsDestroyed; wait++)
            await Task.Delay(20);
        var baseline = server.Endpoint.PoolsInUse;
        var connection = new FakeConnection();
        var remote = new IPEndPoint(IPAddress.Loopback, 40001);
        var transport = WebSocketSipTransport.Create(server.Endpoint, secure: false, Local, remote, connection);

        var result = transport.Receive(Encoding.UTF8.GetBytes(Options(remote.Port)));

        Assert.That(result, Is.EqualTo(SipFrameResult.Accepted));
        Assert.That(connection.Sent.TryTake(out var answer, TimeSpan.FromSeconds(5)), Is.True, "the 200 goes to the connection's queue");
        Assert.That(answer, Does.StartWith("SIP/2.0 200"));
        Assert.That(answer, Does.Contain("Via: SIP/2.0/WS abc.invalid;").And.Contain("received=127.0.0.1"));

        transport.Close();
        await WaitForPoolsAsync(server, baseline);

        Assert.That(transport.IsDestroyed, Is.True);
        Assert.That(server.Endpoint.PoolsInUse, Is.EqualTo(baseline), "the transport's pool and its rx pool are released");
        Assert.That(transport.Receive(Encoding.UTF8.GetBytes(Options(remote.Port))), Is.EqualTo(SipFrameResult.Closed));
    }

    [Test]
    public void A_frame_longer_than_pjsips_buffer_is_refused_before_pjsip()
    {
        using var server = new TestEndpoint();
        var transport = WebSocketSipTransport.Create(server.Endpoint, secure: true, Local, new IPEndPoint(IPAddress.Loopback, 40002), new FakeConnection());
        try
        {
            Assert.That(transport.Receive(new byte[WebSocketSipTransport.MaxMessageLength + 1]), Is.EqualTo(SipFrameResult.TooLong));
            Assert.That(transport.Name, Is.EqualTo("wss"));
        }
        finally
        {
            transport.Close();
        }
    }

    [Test]
    public void Garbage_and_partial_messages_do_not_stop_the_transport()
    {
        using var server = new TestEndpoint();
        var connection = new FakeConnection();
        var transport = WebSocketSipTransport.Create(server.Endpoint, secure: false, Local, new IPEndPoint(IPAddress.Loopback, 40003), connection);
        try
        {
            _ = transport.Receive("not sip at all\r\n\r\n"u8);
            Assert.That(transport.Receive("OPTIONS sip:x SIP/2.0\r\nContent-Length: 500\r\n\r\nshort"u8), Is.EqualTo(SipFrameResult.Dropped), "a body shorter than its Content-Length");

            Assert.That(transport.Receive(Encoding.UTF8.GetBytes(Options(40003))), Is.EqualTo(SipFrameResult.Accepted));
            Assert.That(connection.Sent.TryTake(out var answer, TimeSpan.FromSeconds(5)) ? answer : null, Does.StartWith("SIP/2.0 200"));
        }
        finally
        {
            transport.Close();
        }
    }

    [Test]
    public void A_message_without_content_length_is_taken_whole_as_rfc_7118_allows()
    {
        using var server = new TestEndpoint();
        var connection = new FakeConnection();
        var transport = WebSocketSipTransport.Create(server.Endpoint, secure: false, Local, new IPEndPoint(IPAddress.Loopback, 40005), connection);
        try
        {
            var options = Options(40005).Replace("Content-Length: 0\r\n", "", StringComparison.Ordinal);
            Assert.That(options, Does.Not.Contain("Content-Length"));

            Assert.That(transport.Receive(Encoding.UTF8.GetBytes(options)), Is.EqualTo(SipFrameResult.Accepted));
            Assert.That(connection.Sent.TryTake(out var answer, TimeSpan.FromSeconds(5)) ? answer : null, Does.StartWith("SIP/2.0 200"));
        }
        finally
        {
            transport.Close();
        }
    }

    [Test]
    public void Disposing_the_endpoint_destroys_open_websocket_transports_and_asks_their_sockets_to_close()
    {
        var server = new TestEndpoint();
        var connection = new FakeConnection();
        WebSocketSipTransport transport;
        try
        {
            transport = WebSocketSipTransport.Create(server.Endpoint, secure: false, Local, new IPEndPoint(IPAddress.Loopback, 40004), connection);
        }
        finally
        {
            server.Dispose();
        }

        Assert.That(transport.IsDestroyed, Is.True);
        Assert.That(connection.CloseRequests, Is.GreaterThan(0));
        Assert.DoesNotThrow(transport.Close, "closing after pjsip destroyed it is a no-op");
    }
}
