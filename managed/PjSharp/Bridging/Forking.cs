using PjSharp.Media;
using PjSharp.Sessions;

namespace PjSharp.Bridging;

/// <summary>
/// Rings targets in parallel (RFC 3261 §16.7 forking, done as a B2BUA): the first leg to answer
/// wins and the others get CANCEL (or BYE, if they answered too). Without a winner, the result is
/// the status the caller should hear.
/// </summary>
internal sealed class Forking(CallBridge bridge, string callId, string target, System.Diagnostics.ActivityContext traceParent = default)
{
    private readonly Lock _gate = new();
    private readonly List<SipSession> _legs = [];
    private readonly List<int> _failures = [];
    private SipSession? _winner;
    private bool _abandoned;

    /// <summary>The leg that answered, if one did.</summary>
    public SipSession? Winner
    {
        get
        {
            lock (_gate)
                return _winner;
        }
    }

    public async Task<(SipSession? Winner, int Status)> RunAsync(IReadOnlyList<DialTarget> targets, SessionIdentity? caller,
        Func<SipSession, MediaPreferences?> preferences, EventHandler<SessionProgressEventArgs>? progress, CancellationToken abandon, string? passthroughOffer = null)
    {
        using var abandoned = abandon.Register(() => _ = AbandonAsync());
        var starts = new List<Task<SipSession>>(targets.Count);
        foreach (var dialTarget in targets)
        {
            starts.Add(bridge.Sessions.CallAsync(new CallOptions
            {
                Target = dialTarget.Uri,
                Endpoint = dialTarget.Endpoint,
                Caller = caller is { User.Length: > 0 } ? caller : null,
                Timeout = bridge.Options.RingTimeout,
                Call = this,
                Sdp = passthroughOffer,
                // The legs join the caller's trace.
                TraceParent = traceParent,
                // A contact registered through proxies is reached through them (RFC 3327).
                Headers = dialTarget.Path.Length > 0 ? [new("Route", dialTarget.Path)] : [],
                Prepare = leg =>
                {
                    leg.MediaPreferences = preferences(leg);
                    if (progress != null)
                        leg.Progress += progress;
                },
            }, CancellationToken.None));
        }
        foreach (var start in starts)
        {
            try
            {
                var leg = await start.ConfigureAwait(false);
                bool late;
                lock (_gate)
                {
                    _legs.Add(leg);
                    late = _abandoned;
                }
                if (late)
                    await IgnoreEndedAsync(leg.HangupAsync()).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A target that cannot be called counts as a failed leg; the others still ring.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                bridge.CallNotBridged(callId, target, 503, exception.Message);
                lock (_gate)
                    _failures.Add(503);
            }
        }
        SipSession[] legs;
        lock (_gate)
            legs = [.. _legs];

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
                    first = _winner == null && !_abandoned;
                    if (first)
                        _winner = leg;
                }
                if (!first)
                {
                    await IgnoreEndedAsync(leg.HangupAsync()).ConfigureAwait(false);
                    continue;
                }
                foreach (var other in legs.Where(l => !ReferenceEquals(l, leg)))
                    await IgnoreEndedAsync(other.HangupAsync()).ConfigureAwait(false);
                return (leg, 200);
            }
            lock (_gate)
                _failures.Add(status);
        }
        lock (_gate)
            return (null, CallBridge.MapFailure(_failures));
    }

    /// <summary>The caller has gone: every leg is hung up, and one that answers now too.</summary>
    private async Task AbandonAsync()
    {
        SipSession[] legs;
        lock (_gate)
        {
            if (_winner != null)
                return;
            _abandoned = true;
            legs = [.. _legs];
        }
        foreach (var leg in legs)
            await IgnoreEndedAsync(leg.HangupAsync()).ConfigureAwait(false);
    }

    /// <summary>Work on a session that may end meanwhile: that is not a failure of the bridge.</summary>
    internal static async Task IgnoreEndedAsync(Task work)
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
