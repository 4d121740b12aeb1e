using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.DataAccess;
using PjSharp.Registrar;
using PjSharp.Sessions;

namespace PjSharp.Bridging;

/// <summary>Where a bridged call goes: a URI, and the endpoint whose settings apply to that leg.</summary>
/// <param name="Uri">The request URI of the outgoing leg.</param>
/// <param name="Endpoint">The called endpoint (codecs, auth, identity, timers); null uses the session service's default.</param>
/// <param name="Path">The Path the contact registered with (RFC 3327): the INVITE is routed through it.</param>
public sealed record DialTarget(string Uri, Endpoint? Endpoint = null, string Path = "");

/// <summary>A dial plan's decision: the targets to ring at once, or the status to reject the call with.</summary>
public sealed record DialResult(IReadOnlyList<DialTarget> Targets, int RejectStatus = 0)
{
    /// <summary>Reject the call with <paramref name="status"/> (404, 480, 403, ...).</summary>
    public static DialResult Reject(int status) => new([], status);

    /// <summary>Ring these targets in parallel; the first to answer is bridged.</summary>
    public static DialResult Ring(params DialTarget[] targets) => new(targets);
}

/// <summary>Chooses where an incoming call goes. Runs off pjsip's threads; may do I/O; an exception ends this call alone (500).</summary>
public delegate ValueTask<DialResult> DialPlan(SipSession caller, CancellationToken cancellationToken);

/// <summary>Settings of the bridge.</summary>
public sealed class CallBridgeOptions
{
    /// <summary>How long the called parties ring before the caller gets 480 (no answer).</summary>
    public TimeSpan RingTimeout { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// The B2BUA: an incoming call is answered by calling its targets (by default, the registered
/// contacts of the AOR its request URI names) in parallel. The first to answer is bridged: the
/// others get CANCEL, the caller gets the answer (or the best failure: busy, no answer, decline),
/// early media (183) reaches the caller, and afterwards hold, resume, re-INVITE, UPDATE, SIP INFO
/// DTMF, MESSAGE and BYE on either leg are carried to the other. Audio is relayed packet by packet
/// between the two legs' RTP sockets (RFC 4733 events pass with it), both legs using the codec the
/// called party chose among the caller's. When the caller's endpoint and every target's allow
/// <c>direct_media</c> (Asterisk's default), the SDP is passed end to end instead and media flows
/// between the phones.
/// <para>Route calls to it with <c>sessions.Router.Fallback = bridge.Route</c> or <c>MapInvite(target, bridge.Handler)</c>.</para>
/// </summary>
public sealed partial class CallBridge
{
    private readonly SessionService _sessions;
    private readonly ContactLocator? _contacts;
    private readonly Func<string, CancellationToken, ValueTask<Endpoint?>>? _findEndpoint;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<SipSession, BridgeLink> _links = new();
    private long _bridged;
    private int _active;

    public CallBridge(SessionService sessions, ContactLocator? contacts = null,
        Func<string, CancellationToken, ValueTask<Endpoint?>>? findEndpoint = null, CallBridgeOptions? options = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        _sessions = sessions;
        _contacts = contacts;
        _findEndpoint = findEndpoint;
        Options = options ?? new CallBridgeOptions();
        Log = logger ?? NullLogger.Instance;
        DialPlan = DialRegisteredAsync;
    }

    public CallBridgeOptions Options { get; }

    /// <summary>Chooses the targets of each call; by default <see cref="DialRegisteredAsync"/>.</summary>
    public DialPlan DialPlan { get; set; }

    /// <summary>Calls being set up or bridged now.</summary>
    public int ActiveCalls => Volatile.Read(ref _active);

    /// <summary>Calls answered and bridged since start.</summary>
    public long BridgedCalls => Interlocked.Read(ref _bridged);

    internal ILogger Log { get; }

    internal SessionService Sessions => _sessions;

    /// <summary>The application: map it to a target, or use <see cref="Route"/> as the router's fallback.</summary>
    public SessionHandler Handler => HandleAsync;

    /// <summary>For <see cref="SessionRouter.Fallback"/>: every call no other route takes goes through the bridge.</summary>
    public SessionHandler? Route(SipSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        session.DeferAnswer = true;
        return HandleAsync;
    }

    /// <summary>
    /// The default dial plan: the request URI's user names an AOR; its reachable contacts are rung
    /// (404 when there is no such AOR, 480 when none of its contacts can be reached now).
    /// </summary>
    public ValueTask<DialResult> DialRegisteredAsync(SipSession caller, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return DialUserAsync(caller.Target, cancellationToken);
    }

    /// <summary>The reachable contacts of the AOR named <paramref name="user"/> (blind transfers go there too).</summary>
    public async ValueTask<DialResult> DialUserAsync(string user, CancellationToken cancellationToken)
    {
        if (_contacts == null || string.IsNullOrEmpty(user))
            return DialResult.Reject(404);
        var found = await _contacts.FindAsync(user, cancellationToken).ConfigureAwait(false);
        if (found == null)
            return DialResult.Reject(404);
        if (found.Contacts.Count == 0)
            return DialResult.Reject(480);
        var targets = new List<DialTarget>(found.Contacts.Count);
        foreach (var contact in found.Contacts)
        {
            Endpoint? endpoint = null;
            if (contact.Endpoint.Length > 0 && _findEndpoint != null)
                endpoint = await _findEndpoint(contact.Endpoint, cancellationToken).ConfigureAwait(false);
            targets.Add(new DialTarget(contact.Uri, endpoint, contact.Path));
        }
        return new DialResult(targets);
    }

    private async Task HandleAsync(SipSession caller, CancellationToken ended)
    {
        Interlocked.Increment(ref _active);
        try
        {
            if (!caller.DeferAnswer && caller.State is SessionState.Incoming or SessionState.Early)
                throw new InvalidOperationException("A bridged call must defer its answer: route it with CallBridge.Route, or set SipSession.DeferAnswer while routing.");
            var plan = await DialPlan(caller, ended).ConfigureAwait(false);
            if (plan.Targets.Count == 0)
            {
                var status = plan.RejectStatus is >= 300 and <= 699 ? plan.RejectStatus : 480;
                CallNotBridged(caller.CallId, caller.Target, status, "the dial plan gave no target");
                await caller.RejectAsync(status).ConfigureAwait(false);
                return;
            }
            // direct_media on the caller and every target: the SDP passes end to end, media does not touch us.
            // Both phones must also speak the same media (a WebRTC browser and a plain RTP phone cannot meet directly).
            var direct = caller.Endpoint.DirectMedia && plan.Targets.All(t => (t.Endpoint ?? _sessions.Options.DefaultEndpoint) is var callee
                && callee.DirectMedia && callee.EffectiveMedia == caller.Endpoint.EffectiveMedia);
            var offerSdp = direct ? await caller.InvokeAsync(() => caller.InitialOfferSdp).ConfigureAwait(false) : null;
            if (offerSdp != null)
            {
                await new BridgedCall(this, caller, null).RunAsync(plan.Targets, offerSdp, ended).ConfigureAwait(false);
                return;
            }
            var offer = await caller.InvokeAsync(() => BridgeOffer.From(caller)).ConfigureAwait(false);
            if (offer.Codecs.Count == 0)
            {
                CallNotBridged(caller.CallId, caller.Target, 488, "the caller offered no codec the bridge relays");
                await caller.RejectAsync(488).ConfigureAwait(false);
                return;
            }
            var call = new BridgedCall(this, caller, offer);
            await call.RunAsync(plan.Targets, null, ended).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
        }
    }

    internal void CountBridged() => Interlocked.Increment(ref _bridged);

    internal void Track(BridgeLink link)
    {
        _links[link.First] = link;
        _links[link.Second] = link;
    }

    internal void Untrack(BridgeLink link)
    {
        ((ICollection<KeyValuePair<SipSession, BridgeLink>>)_links).Remove(new(link.First, link));
        ((ICollection<KeyValuePair<SipSession, BridgeLink>>)_links).Remove(new(link.Second, link));
    }

    internal BridgeLink? LinkOf(SipSession session) => _links.GetValueOrDefault(session);

    /// <summary>
    /// The caller's status when no leg answered: a 6xx wins (RFC 3261 §16.7), then busy, then the
    /// called parties' own rejections; unanswered rings (our timeout, 408, 487) give 480.
    /// </summary>
    public static int MapFailure(IEnumerable<int> statuses)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        var list = statuses.Where(s => s >= 300).ToList();
        if (list.Count == 0)
            return 480;
        var global = list.Where(s => s >= 600).ToList();
        if (global.Count > 0)
            return global.Contains(600) ? 600 : global.Min();
        if (list.Contains(486))
            return 486;
        // Challenges and our own cancellations are not the called party's answer.
        var answers = list.Where(s => s is not (401 or 407 or 408 or 487)).ToList();
        if (answers.Count == 0)
            return 480;
        if (answers.Exists(s => s is >= 400 and < 500))
            return answers.Where(s => s is >= 400 and < 500).Min();
        if (answers.Exists(s => s >= 500))
            return 503;
        return 480;
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information, Message = "Call {CallId} to '{Target}' not bridged: {Status} ({Reason})")]
    private static partial void LogNotBridged(ILogger logger, string callId, string target, int status, string reason);

    internal void CallNotBridged(string callId, string target, int status, string reason) => LogNotBridged(Log, callId, target, status, reason);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Warning, Message = "Transfer on call {CallId} to {ReferTo} failed: {Reason}")]
    private static partial void LogTransferFailed(ILogger logger, string callId, string referTo, string reason);

    internal void TransferFailed(string callId, string referTo, string reason) => LogTransferFailed(Log, callId, referTo, reason);
}
