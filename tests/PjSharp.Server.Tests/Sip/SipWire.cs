using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PjSharp.Server.Tests.Sip;

/// <summary>A hand-written SIP request that tests bend out of shape on purpose.</summary>
public sealed class SipRequestText
{
    public string Method { get; set; } = "OPTIONS";

    public string RequestUri { get; set; } = "sip:ping@127.0.0.1";

    public string Version { get; set; } = "SIP/2.0";

    /// <summary>Header lines as sent, in order ("Name: value", or anything at all).</summary>
    public List<string> Headers { get; } = [];

    public string Body { get; set; } = "";

    /// <summary>Appends a correct Content-Length; off when a test writes its own.</summary>
    public bool AutoContentLength { get; set; } = true;

    public string CallId { get; private set; } = "";

    /// <summary>A valid out-of-dialog OPTIONS from <paramref name="local"/> to <paramref name="server"/>.</summary>
    public static SipRequestText Options(string transport, IPEndPoint local, IPEndPoint server)
    {
        var callId = Guid.NewGuid().ToString("N");
        var request = new SipRequestText
        {
            RequestUri = $"sip:ping@{HostPort(server)}",
            CallId = callId,
        };
        request.Headers.AddRange(
        [
            $"Via: SIP/2.0/{transport} {HostPort(local)};rport;branch=z9hG4bK{Guid.NewGuid():N}",
            "Max-Forwards: 70",
            $"From: <sip:tester@{HostPort(local)}>;tag={Guid.NewGuid():N}",
            $"To: <sip:ping@{HostPort(server)}>",
            $"Call-ID: {callId}",
            "CSeq: 1 OPTIONS",
            $"Contact: <sip:tester@{HostPort(local)};transport={transport.ToLowerInvariant()}>",
            "Accept: application/sdp",
        ]);
        return request;
    }

    /// <summary>Removes every header with this name (full form).</summary>
    public SipRequestText Without(string name)
    {
        Headers.RemoveAll(line => NameOf(line).Equals(name, StringComparison.OrdinalIgnoreCase));
        return this;
    }

    public SipRequestText With(string line)
    {
        Headers.Add(line);
        return this;
    }

    /// <summary>Replaces the first header with this name by <paramref name="line"/>.</summary>
    public SipRequestText Replace(string name, string line)
    {
        var at = Headers.FindIndex(h => NameOf(h).Equals(name, StringComparison.OrdinalIgnoreCase));
        if (at < 0)
            throw new ArgumentException($"no {name} header", nameof(name));
        Headers[at] = line;
        return this;
    }

    public byte[] ToBytes()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Method} {RequestUri} {Version}\r\n");
        foreach (var line in Headers)
            text.Append(line).Append("\r\n");
        if (AutoContentLength)
            text.Append(CultureInfo.InvariantCulture, $"Content-Length: {Encoding.UTF8.GetByteCount(Body)}\r\n");
        text.Append("\r\n").Append(Body);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    public override string ToString() => Encoding.UTF8.GetString(ToBytes());

    public static string HostPort(IPEndPoint endPoint) => endPoint.AddressFamily == AddressFamily.InterNetworkV6
        ? string.Create(CultureInfo.InvariantCulture, $"[{endPoint.Address}]:{endPoint.Port}")
        : string.Create(CultureInfo.InvariantCulture, $"{endPoint.Address}:{endPoint.Port}");

    private static string NameOf(string line)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? "" : line[..colon].Trim();
    }
}

/// <summary>What came back for one request.</summary>
internal sealed record SipAnswer(string? Message, bool ConnectionClosed)
{
    /// <summary>The status code, or 0 when no response came.</summary>
    public int Status => SipWire.StatusOf(Message);

    public override string ToString() => Message == null
        ? (ConnectionClosed ? "(no answer; the server closed the connection)" : "(no answer)")
        : Message;
}

/// <summary>Sends raw SIP over loopback UDP and TCP and reads the answer.</summary>
internal static class SipWire
{
    public static int StatusOf(string? message)
    {
        if (message == null || !message.StartsWith("SIP/2.0 ", StringComparison.Ordinal) || message.Length < 11)
            return 0;
        return int.TryParse(message.AsSpan(8, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : 0;
    }

    /// <summary>Values of a header (full name or compact form), in order.</summary>
    public static IReadOnlyList<string> HeaderValues(string? message, string name, string? compact = null)
    {
        if (message == null)
            return [];
        var head = message.Split("\r\n\r\n", 2)[0];
        var values = new List<string>();
        foreach (var line in head.Split("\r\n").Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            var header = line[..colon].Trim();
            if (header.Equals(name, StringComparison.OrdinalIgnoreCase) || (compact != null && header.Equals(compact, StringComparison.OrdinalIgnoreCase)))
                values.Add(line[(colon + 1)..].Trim());
        }
        return values;
    }

    /// <summary>Sends one datagram built for the bound local endpoint and returns the first datagram back.</summary>
    public static async Task<SipAnswer> UdpAsync(IPEndPoint server, Func<IPEndPoint, byte[]> build, TimeSpan timeout)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(LoopbackFor(server), 0));
        var local = (IPEndPoint)socket.LocalEndPoint!;
        await socket.SendToAsync(build(local), SocketFlags.None, server);
        var buffer = new byte[65536];
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(LoopbackFor(server), 0), cancel.Token);
            return new SipAnswer(Encoding.UTF8.GetString(buffer, 0, received.ReceivedBytes), false);
        }
        catch (OperationCanceledException)
        {
            return new SipAnswer(null, false);
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
        {
            // ICMP port unreachable: nobody listens any more.
            return new SipAnswer(null, true);
        }
    }

    /// <summary>Connects, sends one request built for the local endpoint and reads one message back.</summary>
    public static async Task<SipAnswer> TcpAsync(IPEndPoint server, Func<IPEndPoint, byte[]> build, TimeSpan timeout)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(LoopbackFor(server), 0));
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(server, cancel.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(build((IPEndPoint)socket.LocalEndPoint!), cancel.Token);
            var reader = new SipStreamReader(stream);
            var message = await reader.ReadAsync(cancel.Token);
            return new SipAnswer(message, message == null);
        }
        catch (OperationCanceledException)
        {
            return new SipAnswer(null, false);
        }
        catch (IOException)
        {
            return new SipAnswer(null, true);
        }
        catch (SocketException)
        {
            return new SipAnswer(null, true);
        }
    }

    public static IPAddress LoopbackFor(IPEndPoint server) =>
        server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback;
}

/// <summary>Frames SIP messages on a stream (TCP, TLS) by their Content-Length.</summary>
internal sealed class SipStreamReader
{
    private readonly Stream _stream;
    private byte[] _buffer = new byte[8192];
    private int _count;

    public SipStreamReader(Stream stream) => _stream = stream;

    /// <summary>The next message, or null when the peer closed the stream first.</summary>
    public async Task<string?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            SkipKeepAlives();
            var headEnd = _buffer.AsSpan(0, _count).IndexOf("\r\n\r\n"u8);
            if (headEnd >= 0)
            {
                var head = Encoding.UTF8.GetString(_buffer, 0, headEnd);
                var length = ContentLength(head);
                var total = headEnd + 4 + length;
                if (_count >= total)
                {
                    var message = Encoding.UTF8.GetString(_buffer, 0, total);
                    Buffer.BlockCopy(_buffer, total, _buffer, 0, _count - total);
                    _count -= total;
                    return message;
                }
                if (_buffer.Length < total)
                    Array.Resize(ref _buffer, total);
            }
            else if (_count == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            var read = await _stream.ReadAsync(_buffer.AsMemory(_count), cancellationToken);
            if (read == 0)
                return null;
            _count += read;
        }
    }

    private void SkipKeepAlives()
    {
        var skip = 0;
        while (skip < _count && (_buffer[skip] == '\r' || _buffer[skip] == '\n'))
            skip++;
        if (skip == 0)
            return;
        Buffer.BlockCopy(_buffer, skip, _buffer, 0, _count - skip);
        _count -= skip;
    }

    private static int ContentLength(string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            var name = line[..colon].Trim();
            if ((name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("l", StringComparison.OrdinalIgnoreCase))
                && int.TryParse(line.AsSpan(colon + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                return length;
        }
        return 0;
    }
}
