using System.Globalization;
using PjSharp.Media;
using PjSharp.Sessions;

namespace PjSharp.Bridging;

/// <summary>
/// One caller and the legs rung for it: forking, early media, the answer, then carrying each
/// leg's events to the other until either hangs up. Events arrive on each leg's own servant, so
/// the shared state is behind a lock and the work on a leg goes through its InvokeAsync.
/// </summary>
internal sealed class BridgedCall(CallBridge bridge, SipSession caller, BridgeOffer offer)
{
    private readonly Lock _gate = new();
    private readonly List<SipSession> _legs = [];
    private readonly List<int> _failures = [];
    private SipSession? _winner;
    private SipSession? _earlyLeg;
    private MediaRelay? _relay;
    private bool _ringing;
    private bool _callerGone;
    private Task _earlyMedia = Task.CompletedTask;

    public async Task RunAsync(IReadOnlyList<DialTarget> targets, CancellationToken callerEnded)
    {
        using var cancelLegs = callerEnded.Register(() => _ = HangupLegsAsync(null));
        var identity = caller.Endpoint.CallerId.Number.Length > 0
            ? new SessionIdentity(caller.Endpoint.CallerId.Name.Length > 0 ? caller.Endpoint.CallerId.Name : null, caller.Endpoint.CallerId.Number,
                caller.RemoteIdentity.Uri, IdentitySource.Configured)
            : caller.RemoteIdentity;
        var starts = new List<Task<SipSession>>(targets.Count);
        foreach (var target in targets)
        {
            starts.Add(bridge.Sessions.CallAsync(new CallOptions
            {
                Target = target.Uri,
                Endpoint = target.Endpoint,
                Caller = identity.User.Length > 0 ? identity : null,
                Timeout = bridge.Options.RingTimeout,
                Call = this,
                Prepare = leg =>
                {
                    var allowed = leg.Endpoint.Allow;
                    leg.MediaPreferences = offer.Preferences(allowed.Count == 0 ? null : [.. offer.Codecs.Where(c => allowed.Contains(c))]);
                    leg.Progress += OnProgress;
                },
            }, CancellationToken.None));
        }
        foreach (var start in starts)
        {
            try
            {
                var leg = await start.ConfigureAwait(false);
                lock (_gate)
                    _legs.Add(leg);
            }
#pragma warning disable CA1031 // A target that cannot be called counts as a failed leg; the others still ring.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                bridge.CallNotBridged(caller.CallId, caller.Target, 503, exception.Message);
                lock (_gate)
                    _failures.Add(503);
            }
        }
        SipSession[] legs;
        lock (_gate)
            legs = [.. _legs];
        if (callerEnded.IsCancellationRequested)
        {
            await HangupLegsAsync(null).ConfigureAwait(false);
            return;
        }

        var winner = await WaitForAnswerAsync(legs).ConfigureAwait(false);
        if (winner == null)
        {
            int status;
            lock (_gate)
                status = CallBridge.MapFailure(_failures);
            if (!callerEnded.IsCancellationRequested)
            {
                bridge.CallNotBridged(caller.CallId, caller.Target, status, "no called party answered");
                await IgnoreEndedAsync(caller.RejectAsync(status)).ConfigureAwait(false);
            }
            return;
        }
        await ConnectAsync(winner).ConfigureAwait(false);
    }

    /// <summary>The first leg to answer; the others are cancelled. Null when none did (or the caller left).</summary>
    private async Task<SipSession?> WaitForAnswerAsync(SipSession[] legs)
    {
        var pending = legs.Select(l => l.Answered).ToList();
        var byTask = legs.ToDictionary(l => (Task)l.Answered);
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending).ConfigureAwait(false);
            pending.Remove(done);
            var leg = byTask[done];
            var status = await done.ConfigureAwait(false);
            if (status is >= 200 and < 300)
            {
                bool first;
                lock (_gate)
                {
                    first = _winner == null && !_callerGone;
                    if (first)
                        _winner = leg;
                }
                if (!first)
                {
                    await IgnoreEndedAsync(leg.HangupAsync()).ConfigureAwait(false);
                    continue;
                }
                await HangupLegsAsync(leg).ConfigureAwait(false);
                return leg;
            }
            lock (_gate)
                _failures.Add(status);
        }
        return null;
    }

    private async Task ConnectAsync(SipSession winner)
    {
        bridge.CountBridged();
        try
        {
            await _earlyMedia.ConfigureAwait(false);
            var codec = await winner.InvokeAsync(() => winner.Audio?.Codec).ConfigureAwait(false);
            var codecName = AudioSdpHandler.CodecName(codec);
            if (codecName == null)
                throw new InvalidOperationException($"The called party answered with a codec the bridge cannot relay ({codec ?? "none"}).");
            await JoinMediaAsync(winner, codecName).ConfigureAwait(false);
            // Hooked before the answer: the caller may hold the moment its ACK is out.
            winner.RemoteOfferAnswered += (_, e) => CarryOffer(caller, e);
            caller.RemoteOfferAnswered += (_, e) => CarryOffer(winner, e);
            await caller.AnswerAsync(200).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The caller gone meanwhile, or an answer that cannot be built: both legs end.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            bridge.CallNotBridged(caller.CallId, caller.Target, 488, exception.Message);
            await IgnoreEndedAsync(winner.HangupAsync()).ConfigureAwait(false);
            await IgnoreEndedAsync(caller.RejectAsync(488)).ConfigureAwait(false);
            _relay?.Dispose();
            return;
        }

        var forwarding = Task.WhenAll(
            ForwardMessagesAsync(caller, winner),
            ForwardMessagesAsync(winner, caller),
            ForwardDtmfAsync(caller, winner),
            ForwardDtmfAsync(winner, caller));
        var first = await Task.WhenAny(caller.Completion, winner.Completion).ConfigureAwait(false);
        var other = first == caller.Completion ? winner : caller;
        await IgnoreEndedAsync(other.HangupAsync()).ConfigureAwait(false);
        await Task.WhenAll(caller.Completion, winner.Completion).ConfigureAwait(false);
        _relay?.Dispose();
        await forwarding.ConfigureAwait(false);
    }

    /// <summary>Relays <paramref name="leg"/>'s audio to the caller's, answering the caller with the leg's codec.</summary>
    private async Task JoinMediaAsync(SipSession leg, string codecName)
    {
        MediaRelay? previous = null;
        lock (_gate)
        {
                if (_relay != null && ReferenceEquals(_earlyLeg, leg))
                return;
            previous = _relay;
            _relay = null;
        }
        previous?.Dispose();
        await caller.InvokeAsync(() => caller.MediaPreferences = offer.Preferences([codecName])).ConfigureAwait(false);
        var relay = await MediaRelay.ConnectAsync(caller, leg).ConfigureAwait(false);
        lock (_gate)
        {
            _relay = relay;
            _earlyLeg = leg;
        }
    }

    private void OnProgress(object? sender, SessionProgressEventArgs e)
    {
        if (sender is not SipSession leg)
            return;
        lock (_gate)
        {
            if (_winner != null || _callerGone)
                return;
            if (e.HasSdp && _earlyLeg == null)
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
        _ = IgnoreEndedAsync(caller.RingAsync(180));
    }

    private async Task StartEarlyMediaAsync(SipSession leg)
    {
        try
        {
            var codec = await leg.InvokeAsync(() => leg.Audio?.Codec).ConfigureAwait(false);
            if (AudioSdpHandler.CodecName(codec) is not { } codecName)
                return;
            await JoinMediaAsync(leg, codecName).ConfigureAwait(false);
            await caller.AnswerAsync(183).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Early media is a courtesy: the call goes on without it.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            bridge.CallNotBridged(caller.CallId, caller.Target, 183, "early media not relayed: " + exception.Message);
        }
    }

    /// <summary>Hangs up every leg but <paramref name="keep"/> (null: all, the caller has gone).</summary>
    private async Task HangupLegsAsync(SipSession? keep)
    {
        SipSession[] legs;
        lock (_gate)
        {
            if (keep == null)
                _callerGone = _winner == null;
            legs = [.. _legs.Where(l => !ReferenceEquals(l, keep))];
        }
        foreach (var leg in legs)
        {
            if (keep == null && ReferenceEquals(leg, _winner))
                continue;
            await IgnoreEndedAsync(leg.HangupAsync()).ConfigureAwait(false);
        }
    }

    /// <summary>The peer of one leg held, resumed or renegotiated: the other leg hears of it the same way.</summary>
    private void CarryOffer(SipSession other, RemoteOfferEventArgs e)
    {
        var useUpdate = string.Equals(e.Method, "UPDATE", StringComparison.OrdinalIgnoreCase);
        var carried = e.Direction switch
        {
            SdpDirection.SendOnly => other.HoldAsync(SdpDirection.SendOnly, useUpdate),
            SdpDirection.Inactive => other.HoldAsync(SdpDirection.Inactive, useUpdate),
            _ => other.ResumeAsync(useUpdate),
        };
        _ = carried.ContinueWith(t =>
        {
            if (t.IsFaulted)
                bridge.CallNotBridged(other.CallId, other.Target, 0, "offer not carried across: " + t.Exception!.InnerException!.Message);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static async Task ForwardMessagesAsync(SipSession from, SipSession to)
    {
        await foreach (var message in from.Messages.ReadAllAsync().ConfigureAwait(false))
            await IgnoreEndedAsync(to.SendRequestAsync(message.Method, message.ContentType, message.Body)).ConfigureAwait(false);
    }

    private static async Task ForwardDtmfAsync(SipSession from, SipSession to)
    {
        await foreach (var digit in from.Dtmf.ReadAllAsync().ConfigureAwait(false))
        {
            // RFC 4733 events travel inside the relayed RTP; SIP INFO digits are sent on as INFO.
            if (digit.Source != DtmfSource.SipInfo)
                continue;
            var body = string.Create(CultureInfo.InvariantCulture, $"Signal={digit.Digit}\r\nDuration=160\r\n");
            await IgnoreEndedAsync(to.SendRequestAsync("INFO", "application/dtmf-relay", body)).ConfigureAwait(false);
        }
    }

    /// <summary>Work on a session that may end meanwhile: that is not a failure of the bridge.</summary>
    private static async Task IgnoreEndedAsync(Task work)
    {
        try
        {
            await work.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The session ended (or never could do it): nothing to carry.
        catch (InvalidOperationException)
#pragma warning restore CA1031
        {
        }
    }
}
