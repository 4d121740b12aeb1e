using System.Threading.Channels;
using PjSharp.Media;
using PjSharp.Sessions;

namespace PjSharp.Bridging;

/// <summary>
/// Two answered sessions joined: their audio relayed, and hold, resume, re-INVITE, UPDATE, SIP
/// INFO digits, MESSAGE, REFER and BYE of one carried to the other. A transfer dissolves the link
/// without hanging up the party that stays, and links that party to the new one.
/// </summary>
internal sealed class BridgeLink
{
    private readonly CallBridge _bridge;
    private readonly TaskCompletionSource _dissolvedTask = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly EventHandler<RemoteOfferEventArgs> _firstOffers;
    private readonly EventHandler<RemoteOfferEventArgs> _secondOffers;
    private readonly EventHandler<SessionMessage> _firstRequests;
    private readonly EventHandler<SessionMessage> _secondRequests;
    private readonly Channel<SessionMessage> _toSecond = Channel.CreateBounded<SessionMessage>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Channel<SessionMessage> _toFirst = Channel.CreateBounded<SessionMessage>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropWrite });
    // The offer being carried to each side: an INFO or MESSAGE that came after it waits for it, so it cannot overtake it.
    private Task _offerToFirst = Task.CompletedTask;
    private Task _offerToSecond = Task.CompletedTask;
    private int _transferring;

    private BridgeLink(CallBridge bridge, SipSession first, SipSession second, MediaRelay? relay)
    {
        _bridge = bridge;
        First = first;
        Second = second;
        Relay = relay;
        _firstOffers = (_, e) => CarryOffer(Second, e);
        _secondOffers = (_, e) => CarryOffer(First, e);
        _firstRequests = (_, message) => _toSecond.Writer.TryWrite(message);
        _secondRequests = (_, message) => _toFirst.Writer.TryWrite(message);
    }

    public SipSession First { get; }

    public SipSession Second { get; }

    /// <summary>The audio relay; null when media passes end to end (direct media).</summary>
    public MediaRelay? Relay { get; }

    public SipSession Other(SipSession session) => ReferenceEquals(session, First) ? Second : First;

    /// <summary>Joins two sessions' audio and events (before the caller's answer, so nothing it does next is missed).</summary>
    public static async Task<BridgeLink> CreateAsync(CallBridge bridge, SipSession first, SipSession second, bool relayed)
    {
        var relay = relayed ? await MediaRelay.ConnectAsync(first, second).ConfigureAwait(false) : null;
        var link = new BridgeLink(bridge, first, second, relay);
        first.RemoteOfferAnswered += link._firstOffers;
        second.RemoteOfferAnswered += link._secondOffers;
        first.RequestReceived += link._firstRequests;
        second.RequestReceived += link._secondRequests;
        first.TransferHandler = request => link.OnTransfer(request);
        second.TransferHandler = request => link.OnTransfer(request);
        bridge.Track(link);
        return link;
    }

    /// <summary>Carries messages and digits until either side hangs up (then the other is hung up) or a transfer dissolves the link.</summary>
    public async Task RunAsync()
    {
        using var stop = new CancellationTokenSource();
        var token = stop.Token;
        var fromFirst = ForwardAsync(_toSecond.Reader, Second, () => Volatile.Read(ref _offerToSecond), token);
        var fromSecond = ForwardAsync(_toFirst.Reader, First, () => Volatile.Read(ref _offerToFirst), token);
        var first = await Task.WhenAny(First.Completion, Second.Completion, _dissolvedTask.Task).ConfigureAwait(false);
        if (first != _dissolvedTask.Task && !_dissolvedTask.Task.IsCompleted)
        {
            var (other, carrying, queue) = first == First.Completion ? (Second, fromFirst, _toSecond) : (First, fromSecond, _toFirst);
            // What the party sent before its BYE reaches the other party first.
            queue.Writer.TryComplete();
            await carrying.ConfigureAwait(false);
            await Forking.IgnoreEndedAsync(other.HangupAsync()).ConfigureAwait(false);
            await Task.WhenAll(First.Completion, Second.Completion).ConfigureAwait(false);
            Relay?.Dispose();
            Detach();
        }
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(fromFirst, fromSecond).ConfigureAwait(false);
        _bridge.Untrack(this);
    }

    /// <summary>Stops carrying anything between the two; neither is hung up.</summary>
    private void Dissolve()
    {
        Detach();
        _dissolvedTask.TrySetResult();
    }

    private void Detach()
    {
        First.RemoteOfferAnswered -= _firstOffers;
        Second.RemoteOfferAnswered -= _secondOffers;
        First.RequestReceived -= _firstRequests;
        Second.RequestReceived -= _secondRequests;
        First.TransferHandler = null;
        Second.TransferHandler = null;
    }

    private void OnTransfer(TransferRequest request)
    {
        if (Interlocked.Exchange(ref _transferring, 1) != 0)
        {
            _ = request.NotifyAsync(491, "Request Pending");
            return;
        }
        _ = Task.Run(() => TransferAsync(request));
    }

    private async Task TransferAsync(TransferRequest request)
    {
        var transferor = request.Session;
        var stays = Other(transferor);
        try
        {
            var status = request.Replaces is { } replaces
                ? await AttendedAsync(transferor, stays, replaces).ConfigureAwait(false)
                : await BlindAsync(stays, request.TargetUser).ConfigureAwait(false);
            await request.NotifyAsync(status).ConfigureAwait(false);
            if (status is >= 200 and < 300)
                await Forking.IgnoreEndedAsync(transferor.HangupAsync()).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A failed transfer is reported to the transferor; the call goes on.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _bridge.TransferFailed(transferor.CallId, request.ReferTo, exception.Message);
            await Forking.IgnoreEndedAsync(request.NotifyAsync(500)).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _transferring, 0);
        }
    }

    /// <summary>Blind transfer: the party that stays is called through to the target; it hears the transferor until the target answers.</summary>
    private async Task<int> BlindAsync(SipSession stays, string targetUser)
    {
        var plan = await _bridge.DialUserAsync(targetUser, CancellationToken.None).ConfigureAwait(false);
        if (plan.Targets.Count == 0)
            return plan.RejectStatus is >= 300 and <= 699 ? plan.RejectStatus : 480;
        if (Relay == null)
            return await BlindDirectAsync(stays, targetUser, plan.Targets).ConfigureAwait(false);
        var codec = AudioSdpHandler.CodecName(await stays.InvokeAsync(() => stays.Audio?.Codec).ConfigureAwait(false));
        if (codec == null)
            return 488;
        var events = await stays.InvokeAsync(() => stays.MediaPreferences).ConfigureAwait(false);
        var identity = await stays.InvokeAsync(() => IdentityOf(stays)).ConfigureAwait(false);
        var forking = new Forking(_bridge, stays.CallId, targetUser, stays.TraceContext);
        var (winner, status) = await forking.RunAsync(plan.Targets, identity,
            _ => new MediaPreferences
            {
                Codecs = [codec],
                TelephoneEvents = events?.TelephoneEvents ?? true,
                TelephoneEventPayloadType = events?.TelephoneEventPayloadType ?? AudioSdpHandler.TelephoneEventPayloadType,
                Relayed = true,
            }, null, stays.Ended).ConfigureAwait(false);
        if (winner == null)
            return status;
        Dissolve();
        var link = await CreateAsync(_bridge, stays, winner, relayed: true).ConfigureAwait(false);
        _ = link.RunAsync();
        _bridge.CountBridged();
        return 200;
    }

    /// <summary>Blind transfer with direct media: the target is offered the staying phone's SDP, then the staying phone the target's.</summary>
    private async Task<int> BlindDirectAsync(SipSession stays, string targetUser, IReadOnlyList<DialTarget> targets)
    {
        var staysSdp = await stays.InvokeAsync(() => stays.RemoteSdp).ConfigureAwait(false);
        if (staysSdp == null)
            return 488;
        var identity = await stays.InvokeAsync(() => IdentityOf(stays)).ConfigureAwait(false);
        var forking = new Forking(_bridge, stays.CallId, targetUser);
        var (winner, status) = await forking.RunAsync(targets, identity, _ => null, null, stays.Ended, staysSdp).ConfigureAwait(false);
        if (winner == null)
            return status;
        var targetSdp = await winner.InvokeAsync(() => winner.RemoteSdp).ConfigureAwait(false);
        if (targetSdp == null)
        {
            await Forking.IgnoreEndedAsync(winner.HangupAsync()).ConfigureAwait(false);
            return 488;
        }
        Dissolve();
        var link = await CreateAsync(_bridge, stays, winner, relayed: false).ConfigureAwait(false);
        _ = link.RunAsync();
        _bridge.CountBridged();
        await stays.ReinviteAsync(targetSdp).ConfigureAwait(false);
        return 200;
    }

    /// <summary>Attended transfer: the party that stays is joined to the far end of the call the Replaces names.</summary>
    private async Task<int> AttendedAsync(SipSession transferor, SipSession stays, ReplacesTarget replaces)
    {
        var replaced = _bridge.Sessions.FindSession(replaces.CallId, replaces.LocalTag, replaces.RemoteTag);
        if (replaced == null || ReferenceEquals(replaced, transferor) || _bridge.LinkOf(replaced) is not { } other)
            return 481;
        var target = other.Other(replaced);
        if (Relay == null || other.Relay == null)
        {
            if (Relay != null || other.Relay != null)
                return 488;
            // Direct media on both calls: each phone is offered the other's SDP.
            var staysSdp = await stays.InvokeAsync(() => stays.RemoteSdp).ConfigureAwait(false);
            var targetSdp = await target.InvokeAsync(() => target.RemoteSdp).ConfigureAwait(false);
            if (staysSdp == null || targetSdp == null)
                return 488;
            Dissolve();
            other.Dissolve();
            var direct = await CreateAsync(_bridge, stays, target, relayed: false).ConfigureAwait(false);
            _ = direct.RunAsync();
            _bridge.CountBridged();
            await Forking.IgnoreEndedAsync(replaced.HangupAsync()).ConfigureAwait(false);
            await stays.ReinviteAsync(targetSdp).ConfigureAwait(false);
            await target.ReinviteAsync(staysSdp).ConfigureAwait(false);
            return 200;
        }
        var stayCodec = await stays.InvokeAsync(() => stays.Audio?.Codec).ConfigureAwait(false);
        var targetCodec = await target.InvokeAsync(() => target.Audio?.Codec).ConfigureAwait(false);
        if (!string.Equals(stayCodec, targetCodec, StringComparison.OrdinalIgnoreCase))
            return 488;
        Dissolve();
        other.Dissolve();
        var link = await CreateAsync(_bridge, stays, target, relayed: true).ConfigureAwait(false);
        _ = link.RunAsync();
        _bridge.CountBridged();
        await Forking.IgnoreEndedAsync(replaced.HangupAsync()).ConfigureAwait(false);
        return 200;
    }

    /// <summary>Who a party is, as the bridge presents it to others: an incoming call's caller, an outgoing call's callee.</summary>
    internal static SessionIdentity IdentityOf(SipSession session)
    {
        if (session.Direction == SessionDirection.Inbound)
            return session.RemoteIdentity;
        var uri = session.RemoteUri.Trim('<', '>');
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var at = uri.IndexOf('@', StringComparison.Ordinal);
        var user = colon >= 0 && at > colon ? uri[(colon + 1)..at] : "";
        return new SessionIdentity(null, user, uri, IdentitySource.From);
    }

    /// <summary>The peer of one leg held, resumed or renegotiated: the other leg hears of it the same way.</summary>
    /// <remarks>
    /// Runs on the offering leg's servant, so offers to each side come here one at a time. A session
    /// takes one offer at a time, so each waits for the one carried before it (a resume that follows
    /// a hold the other phone has not answered yet is sent once that phone answers).
    /// </remarks>
    private void CarryOffer(SipSession other, RemoteOfferEventArgs e)
    {
        var useUpdate = string.Equals(e.Method, "UPDATE", StringComparison.OrdinalIgnoreCase);
        var sdp = e.Sdp;
        var direction = e.Direction;
        Task Send() => sdp != null && Relay == null ? other.ReinviteAsync(sdp, useUpdate) : direction switch
        {
            SdpDirection.SendOnly => other.HoldAsync(SdpDirection.SendOnly, useUpdate),
            SdpDirection.Inactive => other.HoldAsync(SdpDirection.Inactive, useUpdate),
            _ => other.ResumeAsync(useUpdate),
        };
        var toFirst = ReferenceEquals(other, First);
        var previous = Volatile.Read(ref toFirst ? ref _offerToFirst : ref _offerToSecond);
        var carried = previous.IsCompleted ? Send() : AfterAsync(previous, Send);
        if (toFirst)
            Volatile.Write(ref _offerToFirst, carried);
        else
            Volatile.Write(ref _offerToSecond, carried);
        _ = carried.ContinueWith(t =>
        {
            if (t.IsFaulted)
                _bridge.CallNotBridged(other.CallId, other.Target, 0, "offer not carried across: " + t.Exception!.InnerException!.Message);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Runs <paramref name="next"/> once <paramref name="previous"/> has ended, however it ended (its failure is reported on its own).</summary>
    private static async Task AfterAsync(Task previous, Func<Task> next)
    {
        await previous.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
        await next().ConfigureAwait(false);
    }

    /// <summary>INFO (digits included) and MESSAGE of one party, sent on to the other as they came, one at a time.</summary>
    private static async Task ForwardAsync(ChannelReader<SessionMessage> queue, SipSession to, Func<Task> offerInFlight, CancellationToken dissolved)
    {
        try
        {
            await foreach (var message in queue.ReadAllAsync(dissolved).ConfigureAwait(false))
            {
                // After the offer carried before it (hold, resume), whatever became of that offer.
                await offerInFlight().ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
                await Forking.IgnoreEndedAsync(to.SendRequestAsync(message.Method, message.ContentType, message.Body)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (dissolved.IsCancellationRequested)
        {
        }
    }
}
