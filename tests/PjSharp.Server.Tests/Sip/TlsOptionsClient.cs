using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sip;

/// <summary>
/// OPTIONS over one TLS connection from managed code: the stand-in for <c>sipp -t l1</c> where SIPp was
/// built without OpenSSL (Debian's sip-tester). It checks the server certificate against the test CA.
/// </summary>
internal sealed class TlsOptionsClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SslStream _tls;
    private readonly SipStreamReader _reader;
    private readonly IPEndPoint _server;

    private TlsOptionsClient(Socket socket, SslStream tls, IPEndPoint server)
    {
        _socket = socket;
        _tls = tls;
        _server = server;
        _reader = new SipStreamReader(tls);
    }

    public IPEndPoint Local => (IPEndPoint)_socket.LocalEndPoint!;

    public SslProtocols Protocol => _tls.SslProtocol;

    public static async Task<TlsOptionsClient> ConnectAsync(IPEndPoint server, TlsTestCertificate pki, bool presentClientCertificate, CancellationToken cancellationToken)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(SipWire.LoopbackFor(server), 0));
            await socket.ConnectAsync(server, cancellationToken);
            var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                CertificateChainPolicy = pki.ChainPolicy(),
                EnabledSslProtocols = SslProtocols.None,
            };
            if (presentClientCertificate)
                options.ClientCertificates = [pki.Client];
            try
            {
                await tls.AuthenticateAsClientAsync(options, cancellationToken);
            }
            catch
            {
                await tls.DisposeAsync();
                throw;
            }
            return new TlsOptionsClient(socket, tls, server);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends one OPTIONS and returns the answer (null when the connection closed).</summary>
    public async Task<string?> OptionsAsync(CancellationToken cancellationToken)
    {
        var request = SipRequestText.Options("TLS", Local, _server);
        request.RequestUri = $"sip:ping@{SipRequestText.HostPort(_server)};transport=tls";
        await _tls.WriteAsync(request.ToBytes(), cancellationToken);
        await _tls.FlushAsync(cancellationToken);
        // Skip anything that is not the answer to this request (there should be nothing else).
        while (true)
        {
            var message = await _reader.ReadAsync(cancellationToken);
            if (message == null)
                return null;
            if (SipWire.HeaderValues(message, "Call-ID", "i").Contains(request.CallId))
                return message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _tls.DisposeAsync();
        _socket.Dispose();
    }
}
