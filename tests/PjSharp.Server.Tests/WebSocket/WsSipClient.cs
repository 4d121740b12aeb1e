using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.WebSocket;

/// <summary>A SIP client over WebSocket (RFC 7118) as a browser phone is one: subprotocol sip, one message per text frame, a <c>.invalid</c> host.</summary>
internal sealed class WsSipClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly HttpMessageInvoker _invoker;
    private readonly Channel<string> _received = Channel.CreateUnbounded<string>();
    private readonly Task _receiving;
    private int _cseq;

    private WsSipClient(ClientWebSocket socket, HttpMessageInvoker invoker, IPEndPoint server, bool secure)
    {
        Transport = secure ? "wss" : "ws";
        _socket = socket;
        _invoker = invoker;
        Server = server;
        _receiving = ReceiveLoopAsync();
    }

    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(5);

    public IPEndPoint Server { get; }

    /// <summary><c>ws</c> or <c>wss</c>.</summary>
    public string Transport { get; }

    public string Host { get; } = $"{Guid.NewGuid():N}"[..12] + ".invalid";

    public string CallId { get; } = $"{Guid.NewGuid():N}@ws-test";

    /// <summary>How the server closed the socket, once it did.</summary>
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public WebSocketState State => _socket.State;

    /// <summary>Connects from <paramref name="local"/> (default: the loopback address), offering <paramref name="subProtocol"/>.</summary>
    public static async Task<WsSipClient> ConnectAsync(IPEndPoint server, string subProtocol = "sip", string? origin = null,
        IPAddress? local = null, string path = "/ws", System.Security.Cryptography.X509Certificates.X509Certificate2? trustedAuthority = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(local ?? (server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var secure = trustedAuthority != null;
        if (trustedAuthority != null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null)
                    return false;
                using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(trustedAuthority);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                using var presented = new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate);
                return chain.Build(presented);
            };
        }
        var invoker = new HttpMessageInvoker(handler);
        var client = new ClientWebSocket();
        client.Options.AddSubProtocol(subProtocol);
        if (origin != null)
            client.Options.SetRequestHeader("Origin", origin);
        try
        {
            using var timeout = new CancellationTokenSource(Timeout);
            var scheme = secure ? "wss" : "ws";
            await client.ConnectAsync(new Uri($"{scheme}://{SipRequestText.HostPort(server)}{path}"), invoker, timeout.Token);
        }
        catch
        {
            client.Dispose();
            invoker.Dispose();
            throw;
        }
        Assert.That(client.SubProtocol, Is.EqualTo("sip"));
        return new WsSipClient(client, invoker, server, secure);
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    // Answer the server's close, as a browser does.
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        using var timeout = new CancellationTokenSource(Timeout);
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
                    }
                    break;
                }
                await _received.Writer.WriteAsync(Encoding.UTF8.GetString(buffer, 0, length));
            }
        }
        catch (Exception error) when (error is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            _received.Writer.TryComplete();
        }
    }

    public async Task SendAsync(string message)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await _socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
    }

    /// <summary>The next message received that <paramref name="match"/> accepts (others are skipped); null when the socket closes or time runs out.</summary>
    public async Task<string?> ReceiveAsync(Func<string, bool>? match = null, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            while (await _received.Reader.WaitToReadAsync(cancel.Token))
            {
                while (_received.Reader.TryRead(out var message))
                {
                    if (match == null || match(message))
                        return message;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        return null;
    }

    /// <summary>Waits until the server closes the socket (or time runs out).</summary>
    public async Task WaitClosedAsync(TimeSpan? timeout = null)
    {
        await _receiving.WaitAsync(timeout ?? Timeout);
    }

    public string Request(string method, string requestUri, string from, string to, string? contact = null, IEnumerable<string>? headers = null, int cseq = 0, string? body = null)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{method} {requestUri} SIP/2.0\r\n");
        text.Append(CultureInfo.InvariantCulture, $"Via: SIP/2.0/{Transport.ToUpperInvariant()} {Host};branch=z9hG4bK{Guid.NewGuid():N}\r\n");
        text.Append("Max-Forwards: 70\r\n");
        text.Append(CultureInfo.InvariantCulture, $"From: <{from}>;tag={Guid.NewGuid():N}\r\n");
        text.Append(CultureInfo.InvariantCulture, $"To: <{to}>\r\n");
        text.Append(CultureInfo.InvariantCulture, $"Call-ID: {CallId}\r\n");
        text.Append(CultureInfo.InvariantCulture, $"CSeq: {(cseq > 0 ? cseq : Interlocked.Increment(ref _cseq))} {method}\r\n");
        if (contact != null)
            text.Append(CultureInfo.InvariantCulture, $"Contact: {contact}\r\n");
        foreach (var header in headers ?? [])
            text.Append(header).Append("\r\n");
        if (body == null)
            return text.Append("Content-Length: 0\r\n\r\n").ToString();
        text.Append(CultureInfo.InvariantCulture, $"Content-Type: text/plain\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n");
        return text.Append(body).ToString();
    }

    /// <summary>A MESSAGE from <paramref name="user"/> to <paramref name="to"/>, answering the digest challenge.</summary>
    public async Task<string?> MessageAsync(string user, string password, string to, string body)
    {
        var from = $"sip:{user}@{SipRequestText.HostPort(Server)}";
        var target = $"sip:{to}@{SipRequestText.HostPort(Server)}";
        var first = await AskAsync(Request("MESSAGE", target, from, target, body: body));
        if (SipWire.StatusOf(first) != 401)
            return first;
        using var digest = new Registrar.SipPhone(Server, user, password);
        var authorization = digest.Authorize(first!, "MESSAGE", requestUri: target);
        return await AskAsync(Request("MESSAGE", target, from, target, headers: [$"Authorization: {authorization}"], body: body));
    }

    public string ServerUri => $"sip:{SipRequestText.HostPort(Server)}";

    /// <summary>Sends <paramref name="request"/> and waits for its final answer (matched by CSeq).</summary>
    public async Task<string?> AskAsync(string request)
    {
        var cseq = SipWire.HeaderValues(request, "CSeq")[0];
        await SendAsync(request);
        return await ReceiveAsync(m => m.StartsWith("SIP/2.0 ", StringComparison.Ordinal) && SipWire.StatusOf(m) >= 200
            && SipWire.HeaderValues(m, "CSeq") is [var answered, ..] && answered == cseq);
    }

    public Task<string?> OptionsAsync() => AskAsync(Request("OPTIONS", ServerUri, $"sip:probe@{Host}", ServerUri));

    public string ContactFor(string user) => $"<sip:{user}@{Host};transport={Transport}>";

    /// <summary>REGISTER for <paramref name="user"/>, answering the digest challenge with <see cref="Registrar.SipPhone.Authorize"/>.</summary>
    public async Task<string?> RegisterAsync(string user, string password, int expires = 60)
    {
        var aor = $"sip:{user}@{SipRequestText.HostPort(Server)}";
        var first = await AskAsync(Request("REGISTER", ServerUri, aor, aor, $"{ContactFor(user)};expires={expires.ToString(CultureInfo.InvariantCulture)}"));
        if (SipWire.StatusOf(first) != 401)
            return first;
        using var digest = new Registrar.SipPhone(Server, user, password);
        var authorization = digest.Authorize(first!);
        return await AskAsync(Request("REGISTER", ServerUri, aor, aor, $"{ContactFor(user)};expires={expires.ToString(CultureInfo.InvariantCulture)}",
            [$"Authorization: {authorization}"]));
    }

    /// <summary>Answers a request received over the socket with <paramref name="status"/>.</summary>
    public Task AnswerAsync(string request, int status = 200)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"SIP/2.0 {status.ToString(CultureInfo.InvariantCulture)} {(status == 200 ? "OK" : "Error")}\r\n");
        foreach (var name in new[] { "Via", "From", "To", "Call-ID", "CSeq" })
        {
            foreach (var value in SipWire.HeaderValues(request, name))
                text.Append(CultureInfo.InvariantCulture, $"{name}: {value}{(name == "To" && !value.Contains(";tag=", StringComparison.Ordinal) ? ";tag=ws" : "")}\r\n");
        }
        text.Append("Content-Length: 0\r\n\r\n");
        return SendAsync(text.ToString());
    }

    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(Timeout);
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
            }
            catch (Exception error) when (error is WebSocketException or OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        _socket.Abort();
        try
        {
            await _receiving.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
        }
        _socket.Dispose();
        _invoker.Dispose();
    }
}
