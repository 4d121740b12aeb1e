using System.Net;
using System.Net.Sockets;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>A loopback UDP socket that collects the RTP packets sent to it.</summary>
internal sealed class RtpSink : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

    public RtpSink() => _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

    public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    public async Task<List<(int PayloadType, byte[] Payload)>> CollectUntilAsync(Task done)
    {
        var packets = new List<(int, byte[])>();
        var buffer = new byte[2048];
        while (!done.IsCompleted)
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try
            {
                var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
                if (length > 12 && buffer[0] >> 6 == 2)
                    packets.Add((buffer[1] & 0x7F, buffer[12..length]));
            }
            catch (OperationCanceledException)
            {
            }
        }
        return packets;
    }

    public void Dispose() => _socket.Dispose();
}
