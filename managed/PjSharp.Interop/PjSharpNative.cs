using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PjSharp.Interop;

/// <summary>The pjsharp_* shim in libpjsharp (native/src): what P/Invoke cannot reach in pjproject.</summary>
public static unsafe partial class PjSharpNative
{
    public const uint ModuleRxRequest = 1;
    public const uint ModuleRxResponse = 2;
    public const uint ModuleTxRequest = 4;
    public const uint ModuleTxResponse = 8;
    public const uint ModuleTsxState = 16;

    [StructLayout(LayoutKind.Sequential)]
    public struct ModuleDispatch
    {
        public delegate* unmanaged[Cdecl]<void*, pjsip_rx_data*, int> OnRxRequest;
        public delegate* unmanaged[Cdecl]<void*, pjsip_rx_data*, int> OnRxResponse;
        public delegate* unmanaged[Cdecl]<void*, pjsip_tx_data*, int> OnTxRequest;
        public delegate* unmanaged[Cdecl]<void*, pjsip_tx_data*, int> OnTxResponse;
        public delegate* unmanaged[Cdecl]<void*, pjsip_transaction*, pjsip_event*, void> OnTsxState;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct LayoutEntry
    {
        public byte* Type;
        public byte* Member;
        public nuint Value;
    }

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void pjsharp_module_set_dispatch(ModuleDispatch* callbacks);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_module_capacity();

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial pjsip_module* pjsharp_module_create(byte* name, int priority, void* context, uint flags);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void pjsharp_module_destroy(pjsip_module* module);

    /// <summary>Registers the calling thread with pjlib (the descriptor is allocated natively and kept).</summary>
    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_thread_register(byte* name);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void pjsharp_log_set_callback(delegate* unmanaged[Cdecl]<int, byte*, int, void> callback);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void pjsharp_log_write(int level, byte* sender, byte* message);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_build_setting_count();

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_build_setting_get(int index, byte** name, long* value);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* pjsharp_minimum_pjproject_version();

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial pjsip_rx_data* pjsharp_rdata_from_dropped(pjsip_tp_dropped_data* dropped);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void pjsharp_tls_setting_default(pjsip_tls_setting* setting);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_layout_count();

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial LayoutEntry* pjsharp_layout_get(int index);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_transport_close(pjmedia_transport* transport);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void pjsharp_media_transport_detach(pjmedia_transport* transport, void* userData);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_transport_send_rtp(pjmedia_transport* transport, void* packet, nuint size);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_echo_attach(pjmedia_transport* transport, pj_pool_t* pool, pj_sockaddr* remoteRtp, pj_sockaddr* remoteRtcp, int symmetric, void** echo);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_relay_attach(pjmedia_transport* transport, pj_pool_t* pool, pj_sockaddr* remoteRtp, pj_sockaddr* remoteRtcp, int symmetric, pjmedia_transport* output, void** relay);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_af_inet();

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_af_inet6();

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_transport_start(pjmedia_transport* transport, pj_pool_t* pool, pjmedia_sdp_session* local, pjmedia_sdp_session* remote, uint index);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_transport_stop(pjmedia_transport* transport);
    /// <summary>What pal_websocket.c calls: copy and queue a printed message, close the socket, release the context.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct WebSocketCallbacks
    {
        public delegate* unmanaged[Cdecl]<void*, byte*, nuint, int> OnSend;
        public delegate* unmanaged[Cdecl]<void*, void> OnShutdown;
        public delegate* unmanaged[Cdecl]<void*, void> OnDestroy;
    }

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void pjsharp_ws_set_callbacks(WebSocketCallbacks* callbacks);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_ws_register_types(int* wsType, int* wssType);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_ws_create(pjsip_endpoint* endpoint, int secure, byte* localHost, int localPort,
        byte* remoteHost, int remotePort, void* context, pjsip_transport** transport);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_ws_receive(pjsip_transport* transport, byte* data, nuint length);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_ws_close(pjsip_transport* transport);


    /// <summary>Events of a WebRTC transport chain, as pjsharp_media_event_cb reports them.</summary>
    public const int MediaEventIceInit = 1;
    public const int MediaEventIceNegotiated = 2;
    public const int MediaEventDtlsNegotiated = 3;

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_transport_media_create(pjmedia_transport* transport, pj_pool_t* pool, uint options, pjmedia_sdp_session* remote, uint index);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_transport_encode_sdp(pjmedia_transport* transport, pj_pool_t* pool, pjmedia_sdp_session* local, pjmedia_sdp_session* remote, uint index);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_ice_create(pjmedia_endpt* endpoint, pj_pool_factory* factory, pj_timer_heap_t* timers, pj_pool_t* pool,
        pj_str_t* address, uint port, uint componentCount, delegate* unmanaged[Cdecl]<void*, int, int, void> callback, void* userData, pjmedia_transport** transport);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_srtp_dtls_create(pjmedia_endpt* endpoint, pjmedia_transport* member, pj_pool_t* pool,
        delegate* unmanaged[Cdecl]<void*, int, int, void> callback, void* userData, pjmedia_transport** transport);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial ulong pjsharp_media_echo_received(void* echo);

    [LibraryImport(NativeLibraryResolver.LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int pjsharp_media_transport_ports(pjmedia_transport* transport, int* rtp, int* rtcp);
}
