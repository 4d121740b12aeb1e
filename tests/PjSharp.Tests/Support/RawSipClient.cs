using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PjSharp.Tests.Support;

/// <summary>Sends hand-made SIP text over UDP or TCP on loopback and reads the answer.</summary>
internal sealed class RawSipClient : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _server;
    private readonly bool _stream;

    public RawSipClient(IPEndPoint server, bool tcp = false)
    {
        _server = server;
        _stream = tcp;
        _socket = new Socket(server.AddressFamily, tcp ? SocketType.Stream : SocketType.Dgram, tcp ? ProtocolType.Tcp : ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        if (tcp)
            _socket.Connect(server);
    }

    public IPEndPoint Local => (IPEndPoint)_socket.LocalEndPoint!;

    public string Transport => _stream ? "TCP" : "UDP";

    public static string Options(IPEndPoint local, string transport = "UDP", string? callId = null, string extraHeaders = "", string requestUri = "sip:ping@127.0.0.1", string version = "SIP/2.0")
    {
        var address = local.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{local.Address}]" : local.Address.ToString();
        var port = local.Port.ToString(CultureInfo.InvariantCulture);
        return $"OPTIONS {requestUri} {version}\r\n" +
            $"Via: SIP/2.0/{transport} {address}:{port};branch=z9hG4bK{Guid.NewGuid():N}\r\n" +
            "Max-Forwards: 70\r\n" +
            $"From: <sip:tester@{address}>;tag={Guid.NewGuid():N}\r\n" +
            "To: <sip:ping@127.0.0.1>\r\n" +
            $"Call-ID: {callId ?? Guid.NewGuid().ToString("N")}\r\n" +
            "CSeq: 1 OPTIONS\r\n" +
            extraHeaders +
            "Content-Length: 0\r\n\r\n";
    }

    public void Send(string text) => Send(Encoding.UTF8.GetBytes(text));

    public void Send(byte[] bytes)
    {
        if (_stream)
            _socket.Send(bytes);
        else
            _socket.SendTo(bytes, _server);
    }

    /// <summary>The next message received, or null when nothing came within the timeout.</summary>
    public string? Receive(TimeSpan timeout)
    {
        var buffer = new byte[65536];
        _socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        try
        {
            var length = _socket.Receive(buffer);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.TimedOut || error.SocketErrorCode == SocketError.WouldBlock)
        {
            return null;
        }
    }

    /// <summary>Sends and returns the status code of the answer (0 when none came).</summary>
    public int Exchange(string text, TimeSpan timeout, out string? response)
    {
        Send(text);
        response = Receive(timeout);
        return StatusOf(response);
    }

    public static int StatusOf(string? response)
    {
        if (response == null || !response.StartsWith("SIP/2.0 ", StringComparison.Ordinal))
            return 0;
        return int.Parse(response.AsSpan(8, 3), CultureInfo.InvariantCulture);
    }

    public void Dispose() => _socket.Dispose();
}
