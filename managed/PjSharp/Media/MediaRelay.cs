using PjSharp.Interop;
using PjSharp.Sessions;

namespace PjSharp.Media;

/// <summary>
/// Two sessions' audio joined back to back: RTP and RTCP that arrive on one leg's socket go out
/// through the other's, packet by packet in the media thread, without decoding (both legs must
/// have negotiated the same codec). Both sessions need <see cref="MediaPreferences.Relayed"/>.
/// Either leg may renegotiate (a new address, hold); closing a leg, or <see cref="Dispose"/>,
/// stops both directions before any socket closes.
/// </summary>
public sealed class MediaRelay : IDisposable
{
    private readonly Lock _gate = new();
    private readonly AudioChannel _first;
    private readonly AudioChannel _second;
    private unsafe void* _firstState;
    private unsafe void* _secondState;
    private bool _stopped;

    private MediaRelay(AudioChannel first, AudioChannel second)
    {
        _first = first;
        _second = second;
    }

    /// <summary>Joins the audio of <paramref name="first"/> and <paramref name="second"/>; each side starts forwarding once its media is negotiated.</summary>
    public static async Task<MediaRelay> ConnectAsync(SipSession first, SipSession second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var firstChannel = await first.InvokeAsync(() => AudioChannel.GetOrOpen(first)).ConfigureAwait(false);
        var secondChannel = await second.InvokeAsync(() => AudioChannel.GetOrOpen(second)).ConfigureAwait(false);
        var relay = new MediaRelay(firstChannel, secondChannel);
        await first.InvokeAsync(() => firstChannel.JoinRelay(relay)).ConfigureAwait(false);
        await second.InvokeAsync(() => secondChannel.JoinRelay(relay)).ConfigureAwait(false);
        return relay;
    }

    /// <summary>Whether the relay still forwards (neither leg has closed it).</summary>
    public bool IsActive
    {
        get
        {
            lock (_gate)
                return !_stopped;
        }
    }

    internal AudioChannel Other(AudioChannel channel) => ReferenceEquals(channel, _first) ? _second : _first;

    /// <summary>Starts forwarding what <paramref name="channel"/> receives (from its peer at the given addresses) to the other leg.</summary>
    internal unsafe void Attach(AudioChannel channel, pjmedia_transport* transport, pj_pool_t* pool, pj_sockaddr* rtp, pj_sockaddr* rtcp, bool symmetric)
    {
        lock (_gate)
        {
            if (_stopped)
                return;
            DetachLocked(channel);
            var output = Other(channel).Transport;
            if (output == null)
                return;
            void* state;
            ThrowHelper.ThrowIfFailed(PjSharpNative.pjsharp_media_relay_attach(transport, pool, rtp, rtcp, symmetric ? 1 : 0, output, &state), "attaching the media relay");
            if (ReferenceEquals(channel, _first))
                _firstState = state;
            else
                _secondState = state;
        }
    }

    /// <summary>Stops forwarding what <paramref name="channel"/> receives.</summary>
    internal void Detach(AudioChannel channel)
    {
        lock (_gate)
            DetachLocked(channel);
    }

    private unsafe void DetachLocked(AudioChannel channel)
    {
        if (ReferenceEquals(channel, _first))
        {
            if (_firstState != null)
                PjSharpNative.pjsharp_media_transport_detach(_first.Transport, _firstState);
            _firstState = null;
        }
        else
        {
            if (_secondState != null)
                PjSharpNative.pjsharp_media_transport_detach(_second.Transport, _secondState);
            _secondState = null;
        }
    }

    /// <summary>Stops both directions; after it returns neither leg sends into the other's socket.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopped)
                return;
            // pjmedia's detach waits for a callback in progress, so no packet is in flight afterwards.
            PjThread.EnsureRegistered();
            DetachLocked(_first);
            DetachLocked(_second);
            _stopped = true;
        }
    }
}
