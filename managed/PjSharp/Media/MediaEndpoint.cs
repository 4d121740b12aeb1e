using PjSharp.Interop;

namespace PjSharp.Media;

/// <summary>
/// pjmedia's endpoint: the codec manager and the RTP sockets. It shares pjsip's pool factory and
/// ioqueue, so pjsip's worker threads poll media sockets too and pjmedia starts no threads of its own.
/// </summary>
internal sealed unsafe class MediaEndpoint : IDisposable
{
    private pjmedia_endpt* _native;
    private readonly PoolHandle? _eventPool;
    private bool _ownsEvents;

    public MediaEndpoint(SipEndpoint endpoint)
    {
        PjThread.EnsureRegistered();
        pjmedia_endpt* native;
        ThrowHelper.ThrowIfFailed(
            PjmediaEndpoint.pjmedia_endpt_create2(endpoint.PoolFactory, PjsipSipEndpoint.pjsip_endpt_get_ioqueue(endpoint.Native), 0, &native),
            "pjmedia_endpt_create2");
        _native = native;
        // Streams report through pjmedia's event manager, which only pjsua would otherwise create.
        if (PjmediaEvent.pjmedia_event_mgr_instance() == null)
        {
            _eventPool = endpoint.CreatePool("media-events", 512, 512);
            pjmedia_event_mgr* events;
            ThrowHelper.ThrowIfFailed(PjmediaEvent.pjmedia_event_mgr_create((pj_pool_t*)_eventPool.DangerousGetHandle(), 0, &events), "pjmedia_event_mgr_create");
            _ownsEvents = true;
        }
        pjmedia_audio_codec_config config;
        PjmediaCodecAudioCodecs.pjmedia_audio_codec_config_default(&config);
        ThrowHelper.ThrowIfFailed(PjmediaCodecAudioCodecs.pjmedia_codec_register_audio_codecs(native, &config), "pjmedia_codec_register_audio_codecs");
    }

    public pjmedia_endpt* Native => _native != null ? _native : throw new ObjectDisposedException(nameof(MediaEndpoint));

    public void Dispose()
    {
        if (_native == null)
            return;
        PjThread.EnsureRegistered();
        _ = PjmediaEndpoint.pjmedia_endpt_destroy2(_native);
        _native = null;
        if (_ownsEvents)
            PjmediaEvent.pjmedia_event_mgr_destroy(null);
        _eventPool?.Dispose();
    }
}

/// <summary>Hands out even RTP ports (RTCP on the next odd one) from a range, round robin.</summary>
internal sealed class RtpPortRange(int first, int last)
{
    private int _next = first & ~1;

    public int First { get; } = first & ~1;

    public int Last { get; } = last;

    public int Count => Math.Max(1, (Last - First) / 2);

    public int Next()
    {
        while (true)
        {
            var current = Volatile.Read(ref _next);
            var following = current + 2 > Last - 1 ? First : current + 2;
            if (Interlocked.CompareExchange(ref _next, following, current) == current)
                return current;
        }
    }
}
