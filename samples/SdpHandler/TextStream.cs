using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using PjSharp.Sessions;

namespace Samples.Sdp;

/// <summary>One call's text stream: a UDP socket on the call's media address that logs the T.140 text it receives.</summary>
internal sealed partial class TextStream : IDisposable
{
    private readonly UdpClient _socket;
    private readonly CancellationTokenSource _closing = new();
    private bool _started;

    private TextStream(IPAddress address) => _socket = new UdpClient(new IPEndPoint(address, 0));

    public int Port => ((IPEndPoint)_socket.Client.LocalEndPoint!).Port;

    /// <summary>The call's stream, kept in the session's property bag (read and written on the call's servant only).</summary>
    public static TextStream? Find(SipSession session) =>
        session.Items.TryGetValue(typeof(TextStream), out var stream) ? (TextStream?)stream : null;

    public static TextStream GetOrOpen(SipSession session)
    {
        if (Find(session) is { } existing)
            return existing;
        var stream = new TextStream(IPAddress.Parse(session.MediaAddress));
        session.Items[typeof(TextStream)] = stream;
        return stream;
    }

    public void Start(string callId, int payloadType, ILogger logger)
    {
        if (_started)
            return;
        _started = true;
        LogOpened(logger, callId, Port);
        // The receive loop runs on the thread pool: the servant that called us goes on at once.
        _ = Task.Run(() => ReceiveAsync(callId, payloadType, logger));
    }

    private async Task ReceiveAsync(string callId, int payloadType, ILogger logger)
    {
        while (true)
        {
            UdpReceiveResult received;
            try
            {
                received = await _socket.ReceiveAsync(_closing.Token);
            }
            catch (Exception closed) when (closed is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var text = Text(received.Buffer, payloadType);
            if (text.Length > 0)
                LogText(logger, callId, text);
        }
    }

    /// <summary>The text an RTP packet (RFC 3550) of the T.140 payload type carries; empty for anything else.</summary>
    private static string Text(byte[] packet, int payloadType)
    {
        if (packet.Length < 12 || packet[0] >> 6 != 2 || (packet[1] & 0x7F) != payloadType)
            return "";
        var offset = 12 + 4 * (packet[0] & 0x0F); // CSRCs
        if ((packet[0] & 0x10) != 0 && packet.Length >= offset + 4) // a header extension
            offset += 4 + 4 * BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(offset + 2));
        if (offset >= packet.Length)
            return "";
        // T.140 sends a byte order mark alone to keep the stream alive: nothing typed.
        return Encoding.UTF8.GetString(packet, offset, packet.Length - offset).Trim('\uFEFF');
    }

    public void Dispose()
    {
        _closing.Cancel();
        _socket.Dispose();
        _closing.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Call {CallId}: real-time text on port {Port}")]
    private static partial void LogOpened(ILogger logger, string callId, int port);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Call {CallId}: text \"{Text}\"")]
    private static partial void LogText(ILogger logger, string callId, string text);
}
