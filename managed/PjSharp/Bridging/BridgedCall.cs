using PjSharp.Media;
using PjSharp.Sessions;

namespace PjSharp.Bridging;

/// <summary>
/// One caller and the legs rung for it: forking, ringing and early media carried to the caller,
/// then the answer, after which a <see cref="BridgeLink"/> carries the call. Events arrive on each
/// leg's own servant, so the shared state is behind a lock and work on a leg goes through its InvokeAsync.
/// </summary>
internal sealed class BridgedCall(CallBridge bridge, SipSession caller, BridgeOffer? offer)
{
    private readonly Lock _gate = new();
    private SipSession? _earlyLeg;
    private bool _ringing;
    private bool _answered;
    private Task _earlyMedia = Task.CompletedTask;

    private string? _passthrough;
    private int _targets;

    /// <summary>Rings the targets and bridges the winner; with <paramref name="passthroughOffer"/>, the SDP goes end to end (direct media).</summary>
    public async Task RunAsync(IReadOnlyList<DialTarget> targets, string? passthroughOffer, CancellationToken callerEnded)
    {
        _passthrough = passthroughOffer;
        _targets = targets.Count;
        var identity = caller.Endpoint.CallerId.Number.Length > 0
            ? new SessionIdentity(caller.Endpoint.CallerId.Name.Length > 0 ? caller.Endpoint.CallerId.Name : null, caller.Endpoint.CallerId.Number,
                WithUser(caller.RemoteIdentity.Uri, caller.Endpoint.CallerId.Number), IdentitySource.Configured)
            : caller.RemoteIdentity;
        var forking = new Forking(bridge, caller.CallId, caller.Target, caller.TraceContext);
        var (winner, status) = await forking.RunAsync(targets, identity, leg =>
        {
            if (offer == null)
                return null;
            var allowed = leg.Endpoint.Allow;
            return offer.Preferences(allowed.Count == 0 ? null : [.. offer.Codecs.Where(c => allowed.Contains(c))]);
        }, OnProgress, callerEnded, passthroughOffer).ConfigureAwait(false);
        lock (_gate)
            _answered = true;
        if (winner == null)
        {
            if (!callerEnded.IsCancellationRequested)
            {
                bridge.CallNotBridged(caller.CallId, caller.Target, status, "no called party answered");
                await Forking.IgnoreEndedAsync(caller.RejectAsync(status)).ConfigureAwait(false);
            }
            return;
        }
        if (callerEnded.IsCancellationRequested)
        {
            await Forking.IgnoreEndedAsync(winner.HangupAsync()).ConfigureAwait(false);
            return;
        }
        BridgeLink link;
        try
        {
            await _earlyMedia.ConfigureAwait(false);
            if (offer == null)
            {
                var answer = await winner.InvokeAsync(() => winner.RemoteSdp).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("The called party answered without SDP.");
                link = await BridgeLink.CreateAsync(bridge, caller, winner, relayed: false).ConfigureAwait(false);
                await caller.AnswerWithSdpAsync(200, answer).ConfigureAwait(false);
                bridge.CountBridged();
                await link.RunAsync().ConfigureAwait(false);
                await caller.Completion.ConfigureAwait(false);
                return;
            }
            var codec = await winner.InvokeAsync(() => winner.Audio?.Codec).ConfigureAwait(false);
            var codecName = AudioSdpHandler.CodecName(codec)
                ?? throw new InvalidOperationException($"The called party answered with a codec the bridge cannot relay ({codec ?? "none"}).");
            await caller.InvokeAsync(() => caller.MediaPreferences ??= offer.Preferences([codecName])).ConfigureAwait(false);
            link = await BridgeLink.CreateAsync(bridge, caller, winner, relayed: true).ConfigureAwait(false);
            await caller.AnswerAsync(200).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The caller gone meanwhile, or an answer that cannot be built: both legs end.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            bridge.CallNotBridged(caller.CallId, caller.Target, 488, exception.Message);
            await Forking.IgnoreEndedAsync(winner.HangupAsync()).ConfigureAwait(false);
            await Forking.IgnoreEndedAsync(caller.RejectAsync(488)).ConfigureAwait(false);
            return;
        }
        bridge.CountBridged();
        await link.RunAsync().ConfigureAwait(false);
        // After a transfer the caller may be in another link: the application lasts as long as its call.
        await caller.Completion.ConfigureAwait(false);
    }

    /// <summary>The caller's URI with the configured number as its user: <c>sip:100@host</c>.</summary>
    private static string WithUser(string uri, string user)
    {
        var at = uri.IndexOf('@', StringComparison.Ordinal);
        var host = at >= 0 ? uri[(at + 1)..] : uri[(uri.IndexOf(':', StringComparison.Ordinal) + 1)..];
        return $"sip:{user}@{host}";
    }

    private void OnProgress(object? sender, SessionProgressEventArgs e)
    {
        if (sender is not SipSession leg)
            return;
        lock (_gate)
        {
            if (_answered)
                return;
            if (e.HasSdp && _earlyLeg == null && (_passthrough == null || _targets == 1))
            {
                // The first leg with early media is heard by the caller, once its SDP is applied.
                _earlyLeg = leg;
                _earlyMedia = Task.Run(() => StartEarlyMediaAsync(leg));
                return;
            }
            if (_ringing || e.StatusCode is not (180 or 181 or 182))
                return;
            _ringing = true;
        }
        _ = Forking.IgnoreEndedAsync(caller.RingAsync(180));
    }

    /// <summary>183 with SDP to the caller, its audio relayed from the early leg (a later winner is relayed instead).</summary>
    private async Task StartEarlyMediaAsync(SipSession leg)
    {
        try
        {
            if (offer == null)
            {
                // Direct media with one target: its early SDP goes to the caller as is.
                var early = await leg.InvokeAsync(() => leg.RemoteSdp).ConfigureAwait(false);
                if (early != null)
                    await caller.AnswerWithSdpAsync(183, early).ConfigureAwait(false);
                return;
            }
            var codec = await leg.InvokeAsync(() => leg.Audio?.Codec).ConfigureAwait(false);
            if (AudioSdpHandler.CodecName(codec) is not { } codecName)
                return;
            await caller.InvokeAsync(() => caller.MediaPreferences = offer.Preferences([codecName])).ConfigureAwait(false);
            _ = await MediaRelay.ConnectAsync(caller, leg).ConfigureAwait(false);
            await caller.AnswerAsync(183).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Early media is a courtesy: the call goes on without it.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            bridge.CallNotBridged(caller.CallId, caller.Target, 183, "early media not relayed: " + exception.Message);
        }
    }
}

/// <summary>What the caller offered, as the bridge offers it on: codecs it can relay and the RFC 4733 payload type.</summary>
internal sealed record BridgeOffer(IReadOnlyList<string> Codecs, int? TelephoneEventPayloadType)
{
    public static BridgeOffer From(SipSession caller)
    {
        var codecs = new List<string>();
        int? events = null;
        foreach (var stream in caller.InitialOffer)
        {
            if (stream.Media != "audio" || stream.Port == 0)
                continue;
            foreach (var format in stream.Formats)
            {
                var encoding = stream.EncodingOf(format);
                if (string.Equals(encoding, "telephone-event", StringComparison.OrdinalIgnoreCase))
                {
                    if (int.TryParse(format, System.Globalization.CultureInfo.InvariantCulture, out var type))
                        events ??= type;
                    continue;
                }
                if (AudioSdpHandler.CodecName(encoding) is { } name && !codecs.Contains(name))
                    codecs.Add(name);
            }
            break;
        }
        var allowed = caller.Endpoint.Allow;
        if (allowed.Count > 0)
            codecs = codecs.FindAll(c => allowed.Contains(c));
        return new BridgeOffer(codecs, events);
    }

    public MediaPreferences Preferences(IReadOnlyList<string>? codecs = null) => new()
    {
        Codecs = codecs ?? Codecs,
        TelephoneEvents = TelephoneEventPayloadType != null,
        TelephoneEventPayloadType = TelephoneEventPayloadType ?? AudioSdpHandler.TelephoneEventPayloadType,
        Relayed = true,
    };
}
