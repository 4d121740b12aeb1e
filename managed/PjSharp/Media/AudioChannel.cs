using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Interop;
using PjSharp.Sessions;

namespace PjSharp.Media;

/// <summary>
/// A session's audio: its RTP/RTCP sockets and, once offer/answer completes, either a pjmedia
/// stream (codecs, jitter buffer, RFC 4733 in and out, playback) or the RTP reflector that
/// echoes what arrives. Every method runs on the session's servant.
/// For an endpoint with WebRTC media (<c>webrtc</c>, or <c>ice_support</c> and
/// <c>media_encryption=dtls</c> on their own) the sockets are a chain of pjmedia transports: ICE
/// (full ICE, host candidates on the media address) under DTLS-SRTP, with RTCP multiplexed on the
/// RTP port when <c>rtcp_mux</c> is on; the transports write their own SDP attributes, and the
/// stream or the echo runs on top of the chain, seeing plain RTP.
/// </summary>
public sealed unsafe class AudioChannel
{
    private static readonly object ItemKey = new();
    private readonly SipSession _session;
    private readonly PoolHandle _pool;
    private GCHandle _self;
    private pjmedia_transport* _transport;
    private pjmedia_stream* _stream;
    private bool _echo;
    private bool _echoAttached;
    private void* _echoState;
    private Playback? _playback;
    private pjmedia_master_port* _idleClock;
    private pjmedia_port* _idleSource;
    private bool _closed;
    private bool _started;
    private MediaRelay? _relay;
    private bool _transportCreated;
    private readonly TaskCompletionSource _iceDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _dtlsDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AudioChannel(SipSession session)
    {
        _session = session;
        _pool = session.Service.Endpoint.CreatePool("audio", 2048, 2048);
        _self = GCHandle.Alloc(this, GCHandleType.Weak);
        LocalAddress = session.MediaAddress;
        var media = session.Endpoint.EffectiveMedia;
        UsesAvpf = media.UseAvpf;
        UsesIce = media.IceSupport;
        UsesDtls = media.Encryption == MediaEncryption.Dtls;
        UsesRtcpMux = media.RtcpMux;
    }

    /// <summary>Whether this side offers the AVPF profile (RTP/AVPF, or RTP/SAVPF under DTLS).</summary>
    public bool UsesAvpf { get; }

    /// <summary>Whether the sockets are an ICE transport (host candidates, full ICE).</summary>
    public bool UsesIce { get; }

    /// <summary>Whether SRTP keyed by DTLS runs over the sockets (media_encryption=dtls).</summary>
    public bool UsesDtls { get; }

    /// <summary>Whether RTCP is offered on the RTP port (rtcp-mux).</summary>
    public bool UsesRtcpMux { get; }

    /// <summary>Whether the transports write SDP attributes of their own (ICE or DTLS).</summary>
    public bool IsWebRtc => UsesIce || UsesDtls;

    /// <summary>Completes when ICE connectivity checks succeed; faults when they fail. Never completes without ICE.</summary>
    public Task IceCompletion => _iceDone.Task;

    /// <summary>Completes when DTLS has produced the SRTP keys; faults when the handshake fails. Never completes without DTLS.</summary>
    public Task DtlsCompletion => _dtlsDone.Task;

    /// <summary>RTP packets the echo has received (after SRTP decryption on a DTLS chain).</summary>
    public long EchoReceivedPackets => _echoAttached ? (long)PjSharpNative.pjsharp_media_echo_received(_echoState) : _echoReceived;

    private long _echoReceived;

    /// <summary>This side's DTLS certificate fingerprint as the SDP carries it ("SHA-256 AB:CD:..."), or null without DTLS.</summary>
    public string? LocalFingerprint
    {
        get
        {
            if (!UsesDtls || _transport == null)
                return null;
            var buffer = stackalloc byte[160];
            nuint length = 160;
            fixed (byte* hash = "SHA-256\0"u8)
            {
                if (PjmediaTransportSrtp.pjmedia_transport_srtp_dtls_get_fingerprint(_transport, hash, buffer, &length) != ThrowHelper.Success)
                    return null;
            }
            return Encoding.ASCII.GetString(buffer, (int)length);
        }
    }

    /// <summary>The address in this side's SDP.</summary>
    public string LocalAddress { get; }

    /// <summary>This side's RTP port.</summary>
    public int LocalPort { get; private set; }

    /// <summary>This side's RTCP port when RTCP is not multiplexed: the next one, except under ICE, whose sockets may be the other way round.</summary>
    public int LocalRtcpPort { get; private set; }

    /// <summary>Where the peer asked for RTP, from the last negotiated answer or offer.</summary>
    public string? RemoteAddress { get; private set; }

    public int RemotePort { get; private set; }

    /// <summary>The first codec of the negotiated stream (PCMU, PCMA, G722, ...).</summary>
    public string? Codec { get; private set; }

    /// <summary>This side's negotiated direction.</summary>
    public SdpDirection Direction { get; private set; } = SdpDirection.Inactive;

    /// <summary>Whether received RTP is being sent back to the peer.</summary>
    public bool IsEchoing => _echoAttached;

    /// <summary>Whether a pjmedia stream is running (playback and RFC 4733 need one).</summary>
    public bool HasStream => _stream != null;

    /// <summary>The relay joining this call's RTP to another call's, if any.</summary>
    public MediaRelay? Relay => _relay;

    /// <summary>Whether the session's RTP goes to a relay rather than a local stream.</summary>
    public bool IsRelayed => _session.MediaPreferences?.Relayed == true || _relay != null;

    internal pjmedia_transport* Transport => _transport;

    /// <summary>Forwards this channel's RTP to the relay's other leg from now on (or once negotiated).</summary>
    internal void JoinRelay(MediaRelay relay)
    {
        if (_closed)
            return;
        if (_relay != null && !ReferenceEquals(_relay, relay))
            _relay.Dispose();
        _relay = relay;
        if (RemoteAddress != null)
        {
            StopFlow();
            StartFlow();
        }
    }

    internal static AudioChannel GetOrOpen(SipSession session)
    {
        if (session.Items.TryGetValue(ItemKey, out var existing))
            return (AudioChannel)existing!;
        var channel = new AudioChannel(session);
        try
        {
            channel.Open();
        }
        catch
        {
            channel.Close();
            throw;
        }
        session.Items[ItemKey] = channel;
        return channel;
    }

    internal static AudioChannel? Find(SipSession session) =>
        session.Items.TryGetValue(ItemKey, out var existing) ? (AudioChannel)existing! : null;

    private void Open()
    {
        var service = _session.Service;
        var addressBytes = Encoding.UTF8.GetBytes(LocalAddress);
        var family = LocalAddress.Contains(':', StringComparison.Ordinal) ? PjSharpNative.pjsharp_af_inet6() : PjSharpNative.pjsharp_af_inet();
        var options = _session.Endpoint.RtpSymmetric ? 0u : (uint)PjConstants.PJMEDIA_UDP_NO_SRC_ADDR_CHECKING;
        var attempts = Math.Min(service.RtpPorts.Count, 64);
        var status = 0;
        fixed (byte* addressPointer = addressBytes)
        {
            var address = PjStr.FromPointer(addressPointer, addressBytes.Length);
            for (var attempt = 0; attempt < attempts; attempt++)
            {
                var port = service.RtpPorts.Next();
                pjmedia_transport* transport;
                status = UsesIce
                    ? PjSharpNative.pjsharp_media_ice_create(service.Media.Native, service.Endpoint.PoolFactory,
                        PjsipSipEndpoint.pjsip_endpt_get_timer_heap(service.Endpoint.Native), (pj_pool_t*)_pool.DangerousGetHandle(),
                        &address, (uint)port, UsesRtcpMux ? 1u : 2u, &OnTransportEvent, (void*)GCHandle.ToIntPtr(_self), &transport)
                    : PjmediaTransportUdp.pjmedia_transport_udp_create3(service.Media.Native, family, null, &address, port, options, &transport);
                if (status == ThrowHelper.Success)
                {
                    _transport = transport;
                    LocalPort = port;
                    LocalRtcpPort = port + 1;
                    if (UsesIce)
                    {
                        int rtp, rtcp;
                        if (PjSharpNative.pjsharp_media_transport_ports(transport, &rtp, &rtcp) == ThrowHelper.Success)
                            (LocalPort, LocalRtcpPort) = (rtp, rtcp);
                    }
                    if (UsesDtls)
                        AddDtls();
                    if (IsWebRtc)
                        MediaLog.WebRtcTransportOpened(service.Log, _session.CallId, LocalAddress, LocalPort, UsesIce, UsesDtls, UsesRtcpMux);
                    return;
                }
            }
        }
        throw new MediaUnavailableException(
            $"No RTP port free on {LocalAddress} after {attempts} tries in {service.RtpPorts.First}-{service.RtpPorts.Last}: {ThrowHelper.StatusText(status)}");
    }

    /// <summary>SRTP keyed by DTLS over the socket transport; closing it closes the member.</summary>
    private void AddDtls()
    {
        pjmedia_transport* srtp;
        var status = PjSharpNative.pjsharp_media_srtp_dtls_create(_session.Service.Media.Native, _transport, (pj_pool_t*)_pool.DangerousGetHandle(),
            &OnTransportEvent, (void*)GCHandle.ToIntPtr(_self), &srtp);
        if (status != ThrowHelper.Success)
        {
            _ = PjSharpNative.pjsharp_media_transport_close(_transport);
            _transport = null;
            ThrowHelper.Throw(status, "creating the DTLS-SRTP transport");
        }
        _transport = srtp;
    }

    /// <summary>
    /// Lets the transport chain write its attributes (ICE credentials and candidates, the DTLS
    /// fingerprint and setup role, rtcp-mux) into this side's SDP, the stream at
    /// <paramref name="localIndex"/>. <paramref name="remote"/> is the offer being answered (its stream
    /// at <paramref name="remoteIndex"/>), or null for an offer. The first call starts the transports'
    /// media session (the ICE role comes from whether we offer or answer).
    /// </summary>
    internal void EncodeTransportSdp(pj_pool_t* pool, pjmedia_sdp_session* local, int localIndex, pjmedia_sdp_session* remote, int remoteIndex)
    {
        if (!IsWebRtc || _closed)
            return;
        if (remote != null && remoteIndex != localIndex)
        {
            // pjmedia's transports read the same index in both descriptions: line the offer up with ours.
            var aligned = (pjmedia_sdp_session*)PjPool.pj_pool_alloc(pool, (nuint)sizeof(pjmedia_sdp_session));
            *aligned = *remote;
            aligned->media[localIndex] = remote->media[remoteIndex];
            aligned->media_count = Math.Max(aligned->media_count, (uint)localIndex + 1);
            remote = aligned;
        }
        if (!_transportCreated)
        {
            var options = UsesRtcpMux ? (uint)PjConstants.PJMEDIA_TPMED_RTCP_MUX : 0u;
            ThrowHelper.ThrowIfFailed(PjSharpNative.pjsharp_media_transport_media_create(_transport, pool, options, remote, (uint)localIndex),
                "pjmedia_transport_media_create");
            _transportCreated = true;
        }
        ThrowHelper.ThrowIfFailed(PjSharpNative.pjsharp_media_transport_encode_sdp(_transport, pool, local, remote, (uint)localIndex),
            "pjmedia_transport_encode_sdp");
        if (UsesAvpf)
            SdpNative.UseFeedbackProfile(pool, local, localIndex);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnTransportEvent(void* context, int kind, int status)
    {
        try
        {
            if (GCHandle.FromIntPtr((nint)context).Target is not AudioChannel channel)
                return;
            var log = channel._session.Service.Log;
            var callId = channel._session.CallId;
            switch (kind)
            {
                case PjSharpNative.MediaEventIceInit when status != ThrowHelper.Success:
                    MediaLog.IceFailed(log, callId, "candidate gathering", ThrowHelper.StatusText(status));
                    break;
                case PjSharpNative.MediaEventIceNegotiated when status == ThrowHelper.Success:
                    MediaLog.IceNegotiated(log, callId);
                    channel._iceDone.TrySetResult();
                    break;
                case PjSharpNative.MediaEventIceNegotiated:
                    MediaLog.IceFailed(log, callId, "negotiation", ThrowHelper.StatusText(status));
                    channel._iceDone.TrySetException(new PjSipException(status, "ICE negotiation", ThrowHelper.StatusText(status)));
                    break;
                case PjSharpNative.MediaEventDtlsNegotiated when status == ThrowHelper.Success:
                    MediaLog.DtlsNegotiated(log, callId);
                    channel._dtlsDone.TrySetResult();
                    break;
                case PjSharpNative.MediaEventDtlsNegotiated:
                    MediaLog.DtlsFailed(log, callId, ThrowHelper.StatusText(status));
                    channel._dtlsDone.TrySetException(new PjSipException(status, "DTLS-SRTP negotiation", ThrowHelper.StatusText(status)));
                    break;
            }
        }
#pragma warning disable CA1031 // Nothing may unwind into pjmedia.
        catch
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Sends received RTP back to the peer from now on (before or after the answer).</summary>
    public void StartEcho()
    {
        _session.ThrowIfNotOnServant();
        _echo = true;
        if (RemoteAddress != null && !_closed)
        {
            StopFlow();
            StartFlow();
        }
    }

    internal void Apply(SdpMediaDescription local, SdpMediaDescription remote)
    {
        StopFlow();
        RemoteAddress = remote.Port == 0 ? null : remote.ConnectionAddress;
        RemotePort = remote.Port;
        Direction = local.Port == 0 ? SdpDirection.Inactive : local.Direction;
        Codec = local.Formats.Count > 0 ? local.EncodingOf(local.Formats[0]) : null;
        Index = local.Index;
        if (local.Port != 0 && RemoteAddress != null && !_closed)
            StartFlow();
        _session.Service.Log.AudioStarted(_session.CallId, _echoAttached ? "echo" : _relay != null ? "relay" : _stream != null ? "stream" : "idle", LocalPort, RemoteAddress, RemotePort, Direction, Codec);
    }

    private int Index { get; set; }

    private void StartFlow()
    {
        var pool = (pj_pool_t*)_pool.DangerousGetHandle();
        ThrowHelper.ThrowIfFailed(PjSharpNative.pjsharp_media_transport_start(_transport, pool, _session.NegotiatedLocal, _session.NegotiatedRemote, (uint)Index),
            "starting the media transport");
        _started = true;
        if (IsRelayed)
        {
            if (_relay == null)
                return;
            pj_sockaddr relayRtp, relayRtcp;
            ParseAddress(RemoteAddress!, RemotePort, &relayRtp);
            ParseAddress(RemoteAddress!, RemotePort + 1, &relayRtcp);
            _relay.Attach(this, _transport, pool, &relayRtp, &relayRtcp, _session.Endpoint.RtpSymmetric);
            return;
        }
        if (_echo)
        {
            // Echo sends only what it receives, so it needs both directions.
            if (Direction != SdpDirection.SendRecv)
                return;
            pj_sockaddr rtp, rtcp;
            ParseAddress(RemoteAddress!, RemotePort, &rtp);
            ParseAddress(RemoteAddress!, RemotePort + 1, &rtcp);
            void* echo;
            ThrowHelper.ThrowIfFailed(PjSharpNative.pjsharp_media_echo_attach(_transport, pool, &rtp, &rtcp, _session.Endpoint.RtpSymmetric ? 1 : 0, &echo),
                "attaching the RTP echo");
            _echoState = echo;
            _echoAttached = true;
            return;
        }
        var local = _session.NegotiatedLocal;
        var remote = _session.NegotiatedRemote;
        if (local == null || remote == null)
            return;
        var media = _session.Service.Media.Native;
        pjmedia_stream_info info;
        ThrowHelper.ThrowIfFailed(PjmediaStream.pjmedia_stream_info_from_sdp(&info, pool, media, local, remote, (uint)Index), "pjmedia_stream_info_from_sdp");
        pjmedia_stream* stream;
        ThrowHelper.ThrowIfFailed(PjmediaStream.pjmedia_stream_create(media, pool, &info, _transport, null, &stream), "pjmedia_stream_create");
        _stream = stream;
        ThrowHelper.ThrowIfFailed(PjmediaStream.pjmedia_stream_start(stream), "pjmedia_stream_start");
        _ = PjmediaStream.pjmedia_stream_set_dtmf_callback(stream, &OnDtmf, (void*)GCHandle.ToIntPtr(_self));
    }

    private void StopFlow()
    {
        StopPlayback();
        StopIdleClock();
        _relay?.Detach(this);
        if (_echoAttached)
        {
            _echoReceived += (long)PjSharpNative.pjsharp_media_echo_received(_echoState);
            PjSharpNative.pjsharp_media_transport_detach(_transport, _echoState);
            _echoAttached = false;
        }
        if (_stream != null)
        {
            _ = PjmediaStream.pjmedia_stream_destroy(_stream);
            _stream = null;
        }
        // ICE and DTLS keep their session across offers and answers: media_start again updates them,
        // media_stop would end them (Close stops them with the transport).
        if (_started && !IsWebRtc)
        {
            _ = PjSharpNative.pjsharp_media_transport_stop(_transport);
            _started = false;
        }
    }

    /// <summary>Sends RFC 4733 telephone-events for <paramref name="digits"/> (0-9, *, #, A-D).</summary>
    internal void SendDtmf(string digits)
    {
        if (_stream == null)
            throw new InvalidOperationException("The call has no audio stream to send RFC 4733 events on.");
        var bytes = Encoding.ASCII.GetBytes(digits);
        fixed (byte* pointer = bytes)
        {
            var text = PjStr.FromPointer(pointer, bytes.Length);
            ThrowHelper.ThrowIfFailed(PjmediaStream.pjmedia_stream_dial_dtmf(_stream, &text), "pjmedia_stream_dial_dtmf");
        }
        EnsureClocked();
    }

    /// <summary>
    /// pjmedia sends queued digits from the stream's put_frame, which only a clock calls: without a
    /// playback, a silence source clocks the stream until the flow stops or a playback takes over.
    /// </summary>
    private void EnsureClocked()
    {
        if (_playback != null || _idleClock != null || _stream == null)
            return;
        var pool = (pj_pool_t*)_pool.DangerousGetHandle();
        pjmedia_port* streamPort;
        ThrowHelper.ThrowIfFailed(PjmediaStream.pjmedia_stream_get_port(_stream, &streamPort), "pjmedia_stream_get_port");
        ref var audio = ref streamPort->info.fmt.det.aud;
        pjmedia_port* silence;
        ThrowHelper.ThrowIfFailed(PjmediaNullPort.pjmedia_null_port_create(pool, audio.clock_rate, audio.channel_count,
            audio.clock_rate * audio.frame_time_usec / 1_000_000 * audio.channel_count, audio.bits_per_sample, &silence), "pjmedia_null_port_create");
        pjmedia_master_port* clock;
        var status = PjmediaMasterPort.pjmedia_master_port_create(pool, silence, streamPort, 0, &clock);
        if (status != ThrowHelper.Success)
        {
            _ = PjmediaPort.pjmedia_port_destroy(silence);
            ThrowHelper.Throw(status, "pjmedia_master_port_create");
        }
        _idleSource = silence;
        _idleClock = clock;
        ThrowHelper.ThrowIfFailed(PjmediaMasterPort.pjmedia_master_port_start(clock), "pjmedia_master_port_start");
    }

    private void StopIdleClock()
    {
        // Destroying the master port joins its clock thread before the source goes.
        if (_idleClock != null)
            _ = PjmediaMasterPort.pjmedia_master_port_destroy(_idleClock, 0);
        _idleClock = null;
        if (_idleSource != null)
            _ = PjmediaPort.pjmedia_port_destroy(_idleSource);
        _idleSource = null;
    }

    /// <summary>Plays a WAV file (16-bit PCM) to the peer; completes at its end, or when the call ends.</summary>
    public Task PlayAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new FileNotFoundException($"No WAV file at {full}.", full);
        return _session.InvokeAsync(() => StartPlayback(full, cancellationToken)).Unwrap();
    }

    private Task StartPlayback(string path, CancellationToken cancellationToken)
    {
        if (_stream == null)
            throw new InvalidOperationException("The call has no audio stream to play to (not answered, on hold, or echoing).");
        StopPlayback();
        StopIdleClock(); // One clock per stream: the playback's takes over.
        var pool = (pj_pool_t*)_pool.DangerousGetHandle();
        pjmedia_port* streamPort;
        ThrowHelper.ThrowIfFailed(PjmediaStream.pjmedia_stream_get_port(_stream, &streamPort), "pjmedia_stream_get_port");
        var playback = new Playback(this);
        var pathBytes = PjStr.NulTerminated(path);
        pjmedia_port* player;
        fixed (byte* pathPointer = pathBytes)
            ThrowHelper.ThrowIfFailed(PjmediaWavPort.pjmedia_wav_player_port_create(pool, pathPointer, 20, (uint)PjConstants.PJMEDIA_FILE_NO_LOOP, 0, &player), $"opening {path}");
        playback.Player = player;
        var sink = streamPort;
        if (player->info.fmt.det.aud.clock_rate != streamPort->info.fmt.det.aud.clock_rate)
        {
            pjmedia_port* resampler;
            ThrowHelper.ThrowIfFailed(PjmediaResample.pjmedia_resample_port_create(pool, streamPort, player->info.fmt.det.aud.clock_rate,
                (uint)PjConstants.PJMEDIA_RESAMPLE_DONT_DESTROY_DN, &resampler),
                "pjmedia_resample_port_create");
            playback.Resampler = resampler;
            sink = resampler;
        }
        pjmedia_master_port* master;
        var status = PjmediaMasterPort.pjmedia_master_port_create(pool, player, sink, 0, &master);
        if (status != ThrowHelper.Success)
        {
            playback.Destroy();
            ThrowHelper.Throw(status, "pjmedia_master_port_create");
        }
        playback.Master = master;
        _ = PjmediaWavPort.pjmedia_wav_player_set_eof_cb2(player, (void*)GCHandle.ToIntPtr(playback.Handle), &OnEndOfFile);
        _playback = playback;
        ThrowHelper.ThrowIfFailed(PjmediaMasterPort.pjmedia_master_port_start(master), "pjmedia_master_port_start");
        if (cancellationToken.CanBeCanceled)
            playback.Cancellation = cancellationToken.Register(() => _ = _session.InvokeAsync(() => { if (_playback == playback) StopPlayback(); }));
        return playback.Completion.Task;
    }

    private void StopPlayback()
    {
        var playback = _playback;
        if (playback == null)
            return;
        _playback = null;
        playback.Destroy();
    }

    internal void Close()
    {
        if (_closed)
            return;
        _closed = true;
        // The other leg must stop sending into this socket before it closes.
        _relay?.Dispose();
        StopFlow();
        if (_transport != null)
        {
            _ = PjSharpNative.pjsharp_media_transport_close(_transport);
            _transport = null;
        }
        if (_self.IsAllocated)
            _self.Free();
        _pool.Dispose();
    }

    private static void ParseAddress(string host, int port, pj_sockaddr* address)
    {
        var bytes = Encoding.UTF8.GetBytes(host);
        fixed (byte* pointer = bytes)
        {
            var text = PjStr.FromPointer(pointer, bytes.Length);
            ThrowHelper.ThrowIfFailed(PjSock.pj_sockaddr_init(host.Contains(':', StringComparison.Ordinal) ? PjSharpNative.pjsharp_af_inet6() : PjSharpNative.pjsharp_af_inet(),
                address, &text, (ushort)port), $"the address {host}");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDtmf(pjmedia_stream* stream, void* context, int digit)
    {
        try
        {
            if (GCHandle.FromIntPtr((nint)context).Target is AudioChannel channel)
                channel._session.ReceiveDtmf((char)digit, DtmfSource.Rfc4733);
        }
#pragma warning disable CA1031 // Nothing may unwind into pjmedia.
        catch
#pragma warning restore CA1031
        {
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnEndOfFile(pjmedia_port* port, void* context)
    {
        try
        {
            if (GCHandle.FromIntPtr((nint)context).Target is Playback playback)
            {
                playback.Completion.TrySetResult();
                // The player is torn down on the servant, not on the clock thread calling us.
                _ = playback.Channel._session.InvokeAsync(() =>
                {
                    if (playback.Channel._playback == playback)
                        playback.Channel.StopPlayback();
                });
            }
        }
#pragma warning disable CA1031 // Nothing may unwind into pjmedia.
        catch
#pragma warning restore CA1031
        {
        }
    }

    private sealed class Playback
    {
        public Playback(AudioChannel channel)
        {
            Channel = channel;
            Handle = GCHandle.Alloc(this, GCHandleType.Weak);
        }

        public AudioChannel Channel { get; }

        public GCHandle Handle;

        public pjmedia_port* Player;

        public pjmedia_port* Resampler;

        public pjmedia_master_port* Master;

        public CancellationTokenRegistration Cancellation;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Destroy()
        {
            // The master port's clock thread is joined here, before the stream it feeds can go.
            if (Master != null)
                _ = PjmediaMasterPort.pjmedia_master_port_destroy(Master, 0);
            Master = null;
            if (Resampler != null)
                _ = PjmediaPort.pjmedia_port_destroy(Resampler);
            Resampler = null;
            if (Player != null)
                _ = PjmediaPort.pjmedia_port_destroy(Player);
            Player = null;
            Cancellation.Dispose();
            Completion.TrySetCanceled();
            if (Handle.IsAllocated)
                Handle.Free();
        }
    }
}

/// <summary>No media resource (an RTP port) could be had for a call: answered 503, as a server out of capacity.</summary>
public sealed class MediaUnavailableException : Exception
{
    public MediaUnavailableException()
    {
    }

    public MediaUnavailableException(string message) : base(message)
    {
    }

    public MediaUnavailableException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
