using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PjSharp.Interop;

namespace PjSharp.Transports.WebSocket;

/// <summary>Where a WebSocket transport's outgoing messages go: the connection's send queue.</summary>
public interface IWebSocketSipConnection
{
    /// <summary>Queues one printed SIP message (a copy) for the socket; false when the queue is full or closed. Never blocks.</summary>
    bool TrySend(ReadOnlySpan<byte> message);

    /// <summary>pjsip shut the transport down: close the socket. Never blocks.</summary>
    void RequestClose();
}

/// <summary>What became of a received frame.</summary>
public enum SipFrameResult
{
    /// <summary>pjsip parsed the message and passed it on (it may still have answered 400).</summary>
    Accepted,

    /// <summary>Not a whole SIP message: dropped.</summary>
    Dropped,

    /// <summary>Longer than pjsip's receive buffer (<c>PJSIP_MAX_PKT_LEN</c>).</summary>
    TooLong,

    /// <summary>The transport is closed.</summary>
    Closed,
}

/// <summary>
/// One WebSocket connection (RFC 7118) registered with pjsip's transport manager as a
/// connection-oriented transport of type <c>WS</c> or <c>WSS</c>, keyed by the remote address, so
/// requests to that address with <c>transport=ws</c> leave through it. pjsip's sends are copied to
/// <see cref="IWebSocketSipConnection.TrySend"/>; frames come in through <see cref="Receive"/>.
/// </summary>
/// <remarks>
/// Threading: <see cref="Create"/>, <see cref="Receive"/> and <see cref="Close"/> may be called on any
/// thread (it is registered with pjlib first). <see cref="Receive"/> runs pjsip's modules (interception,
/// services) inline on the caller's thread; the calls for one connection must not overlap, which one
/// receive loop per socket guarantees. pjsip calls <see cref="IWebSocketSipConnection.TrySend"/> and
/// <see cref="IWebSocketSipConnection.RequestClose"/> on its own threads, under its locks: they queue
/// and return. pjsip destroys the transport once it is closed and unused, or when the endpoint stops.
/// </remarks>
public sealed unsafe class WebSocketSipTransport
{
    /// <summary>pjsip keeps no more of a message than this, less one byte.</summary>
    public const int MaxMessageLength = 16384 - 1;

    private const int PjEBusy = 70011;
    private const int PjSipETransportNotAvailable = 171065;

    private static readonly Lock s_init = new();
    private static bool s_callbacksSet;

    private readonly IWebSocketSipConnection _connection;
    private readonly Lock _gate = new();
    private pjsip_transport* _transport;
    private GCHandle _self;
    private bool _closed;
    private int _destroyed;

    private WebSocketSipTransport(IWebSocketSipConnection connection, bool secure, IPEndPoint local, IPEndPoint remote)
    {
        _connection = connection;
        IsSecure = secure;
        LocalEndPoint = local;
        RemoteEndPoint = remote;
    }

    public bool IsSecure { get; }

    public IPEndPoint LocalEndPoint { get; }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary><c>ws</c> or <c>wss</c>, as in a URI's transport parameter.</summary>
    public string Name => IsSecure ? "wss" : "ws";

    /// <summary>Whether pjsip has destroyed the transport (the endpoint stopped, or it was closed and released).</summary>
    public bool IsDestroyed => Volatile.Read(ref _destroyed) != 0;

    /// <summary>Registers a connection with pjsip. Runs on any thread.</summary>
    public static WebSocketSipTransport Create(SipEndpoint endpoint, bool secure, IPEndPoint local, IPEndPoint remote, IWebSocketSipConnection connection)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(remote);
        ArgumentNullException.ThrowIfNull(connection);
        PjThread.EnsureRegistered();
        EnsureCallbacks();
        var transport = new WebSocketSipTransport(connection, secure, Normalize(local), Normalize(remote));
        transport._self = GCHandle.Alloc(transport);
        var localHost = PjStr.NulTerminated(transport.LocalEndPoint.Address.ToString());
        var remoteHost = PjStr.NulTerminated(transport.RemoteEndPoint.Address.ToString());
        int status;
        pjsip_transport* created;
        fixed (byte* localPointer = localHost)
        fixed (byte* remotePointer = remoteHost)
        {
            status = PjSharpNative.pjsharp_ws_create(endpoint.Native, secure ? 1 : 0, localPointer, transport.LocalEndPoint.Port,
                remotePointer, transport.RemoteEndPoint.Port, (void*)GCHandle.ToIntPtr(transport._self), &created);
        }
        if (status != ThrowHelper.Success)
        {
            transport._self.Free();
            ThrowHelper.Throw(status, $"registering WebSocket transport from {remote}");
        }
        transport._transport = created;
        return transport;
    }

    /// <summary>Registers the WS and WSS transport types with pjsip (once per process), so URIs with <c>transport=ws</c> resolve.</summary>
    public static void RegisterTypes()
    {
        PjThread.EnsureRegistered();
        int ws, wss;
        ThrowHelper.ThrowIfFailed(PjSharpNative.pjsharp_ws_register_types(&ws, &wss), "registering the WS and WSS transport types");
    }

    /// <summary>Feeds one frame (one whole SIP message) to pjsip; pjsip's modules run on this thread. Calls do not overlap.</summary>
    public SipFrameResult Receive(ReadOnlySpan<byte> message)
    {
        if (message.Length > MaxMessageLength)
            return SipFrameResult.TooLong;
        PjThread.EnsureRegistered();
        lock (_gate)
        {
            if (_closed || IsDestroyed)
                return SipFrameResult.Closed;
            int status;
            fixed (byte* data = message)
                status = PjSharpNative.pjsharp_ws_receive(_transport, data, (nuint)message.Length);
            return status switch
            {
                ThrowHelper.Success => SipFrameResult.Accepted,
                PjSipETransportNotAvailable => SipFrameResult.Closed,
                _ => SipFrameResult.Dropped,
            };
        }
    }

    /// <summary>The socket closed: pjsip stops sending and destroys the transport once nothing uses it.</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (_closed)
                return;
            _closed = true;
            if (IsDestroyed)
                return;
            PjThread.EnsureRegistered();
            _ = PjSharpNative.pjsharp_ws_close(_transport);
        }
    }

    public override string ToString() => $"{Name} {RemoteEndPoint}";

    private static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    private static void EnsureCallbacks()
    {
        lock (s_init)
        {
            if (s_callbacksSet)
                return;
            var callbacks = new PjSharpNative.WebSocketCallbacks
            {
                OnSend = &OnSend,
                OnShutdown = &OnShutdown,
                OnDestroy = &OnDestroy,
            };
            PjSharpNative.pjsharp_ws_set_callbacks(&callbacks);
            s_callbacksSet = true;
        }
    }

    private static WebSocketSipTransport? FromContext(void* context)
    {
        if (context == null)
            return null;
        return GCHandle.FromIntPtr((nint)context).Target as WebSocketSipTransport;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnSend(void* context, byte* data, nuint length)
    {
        try
        {
            var transport = FromContext(context);
            if (transport == null || transport.IsDestroyed)
                return PjSipETransportNotAvailable;
            return transport._connection.TrySend(new ReadOnlySpan<byte>(data, checked((int)length))) ? ThrowHelper.Success : PjEBusy;
        }
#pragma warning disable CA1031 // Nothing may cross into pjsip; the send fails instead.
        catch (Exception)
#pragma warning restore CA1031
        {
            return PjEBusy;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnShutdown(void* context)
    {
        try
        {
            FromContext(context)?._connection.RequestClose();
        }
#pragma warning disable CA1031 // Nothing may cross into pjsip.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDestroy(void* context)
    {
        try
        {
            var transport = FromContext(context);
            if (transport == null || Interlocked.Exchange(ref transport._destroyed, 1) != 0)
                return;
            transport._connection.RequestClose();
            transport._self.Free();
        }
#pragma warning disable CA1031 // Nothing may cross into pjsip.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

}
