using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess;
using PjSharp.Interception;
using PjSharp.Interop;
using PjSharp.Media;
using PjSharp.Servants;

namespace PjSharp.Sessions;

/// <summary>
/// A call: the endpoint it belongs to, pjsip's INVITE session, the application's call object and
/// a property bag for extensions. All of its work runs on its dialog's servant, in order; the
/// public methods may be called from any thread and complete when pjsip has done the work.
/// </summary>
#pragma warning disable CA1001 // Its token source and INVITE reference are released when the session ends (Finish), not by callers.
public sealed unsafe partial class SipSession
#pragma warning restore CA1001
{
    private readonly CancellationTokenSource _ended = new();
    private readonly TaskCompletionSource<SessionEnd> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _answered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<DtmfDigit> _dtmf = Channel.CreateBounded<DtmfDigit>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly Channel<SessionMessage> _messages = Channel.CreateBounded<SessionMessage>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly List<SdpHandler> _handlers = [];
    private GCHandle _self;
    private InviteSessionHandle? _inviteHandle;
    private TaskCompletionSource<int>? _pendingOffer;
    // The transfer this session asked for (REFER sent), until its final report.
    private TaskCompletionSource<int>? _outgoingTransfer;
    private SdpDirection _wantedDirection = SdpDirection.SendRecv;
    private ulong _sdpVersion;
    private readonly ulong _sdpSessionId = (ulong)Random.Shared.NextInt64(1, long.MaxValue);
    private bool _finished;
    private IReadOnlyList<SdpMediaDescription>? _initialOffer;
    private string? _passthroughLocal;
    private string? _remoteOfferMethod;
    private bool _wasConnected;
    private int _finalStatus;

    internal SipSession(SessionService service, Endpoint endpoint, EndpointIdentity? security, SessionDirection direction, ulong key, string mediaAddress)
    {
        Service = service;
        Endpoint = endpoint;
        Security = security;
        Direction = direction;
        Key = key;
        MediaAddress = mediaAddress;
        _self = GCHandle.Alloc(this);
    }

    public SessionService Service { get; }

    /// <summary>The endpoint (a data-access object) whose settings apply to this call.</summary>
    public Endpoint Endpoint { get; }

    /// <summary>The endpoint as interception identified it, with its auths and AORs; null for outgoing calls.</summary>
    public EndpointIdentity? Security { get; }

    public SessionDirection Direction { get; }

    /// <summary>The application's object for this call (the seed's channel).</summary>
    public object? Call { get; set; }

    /// <summary>Per-session state for extensions and SDP handlers. Use it on the session's servant only.</summary>
    public Dictionary<object, object?> Items { get; } = [];

    /// <summary>
    /// pjsip's INVITE session, for experts: a reference held until the session has ended. Use it with
    /// the generated bindings from the session's servant (<see cref="InvokeAsync{T}(Func{T})"/>).
    /// </summary>
    public InviteSessionHandle InviteSession => _inviteHandle ?? throw new InvalidOperationException("The session has no INVITE session yet.");

    public string CallId { get; private set; } = "";

    /// <summary>The session's span, from INVITE to end, while someone listens to <c>PjSharp</c> activities.</summary>
    internal System.Diagnostics.Activity? Activity { get; set; }

    /// <summary>
    /// The trace this session belongs to: its span when one was started, else the context it continued
    /// (an incoming <c>traceparent</c>, the caller's Activity); what every request it sends and the B2BUA's legs carry.
    /// </summary>
    internal System.Diagnostics.ActivityContext TraceContext { get; set; }

    /// <summary>The status the INVITE ended with (pjsip's cause), 0 until known.</summary>
    internal int FinalStatus => _finalStatus;

    /// <summary>For an incoming call, the user part of its request URI (what routing matches); for an outgoing call, the target URI.</summary>
    public string Target { get; internal set; } = "";

    /// <summary>The local party's URI (From of an outgoing call, To of an incoming one).</summary>
    public string LocalUri { get; private set; } = "";

    /// <summary>The remote party's URI.</summary>
    public string RemoteUri { get; private set; } = "";

    /// <summary>Who the peer is: From, or P-Asserted-Identity / Remote-Party-ID from an endpoint trusted with <c>trust_id_inbound</c>.</summary>
    public SessionIdentity RemoteIdentity { get; set; } = new(null, "", "", IdentitySource.From);

    /// <summary>Who this side presents itself as in P-Asserted-Identity / Remote-Party-ID.</summary>
    public SessionIdentity? LocalIdentity { get; set; }

    public SessionState State { get; private set; } = SessionState.Null;

    /// <summary>Fires when the session ends.</summary>
    public CancellationToken Ended => _ended.Token;

    /// <summary>Completes when the session has ended and its media is released.</summary>
    public Task<SessionEnd> Completion => _completion.Task;

    /// <summary>
    /// For an outgoing call: the final status of the INVITE (200 when answered; 486, 487, 408, ...
    /// otherwise). For an incoming call: completes with 200 once it is confirmed.
    /// </summary>
    public Task<int> Answered => _answered.Task;

    /// <summary>DTMF digits received, RFC 4733 and SIP INFO alike.</summary>
    public ChannelReader<DtmfDigit> Dtmf => _dtmf.Reader;

    /// <summary>In-dialog MESSAGE and non-DTMF INFO requests received (each answered 200).</summary>
    public ChannelReader<SessionMessage> Messages => _messages.Reader;

    /// <summary>The call's audio, once the audio SDP handler has taken part.</summary>
    public AudioChannel? Audio => AudioChannel.Find(this);

    /// <summary>The address this side puts in its SDP.</summary>
    public string MediaAddress { get; }

    /// <summary>Codec, RFC 4733 and relay choices for this call that override the endpoint's (set on the servant before the offer or answer is built).</summary>
    public MediaPreferences? MediaPreferences { get; set; }

    /// <summary>
    /// For an incoming call: build the SDP answer when the application answers (183 or 2xx), not
    /// when the INVITE arrives, so it can first learn what to answer (a bridge asks the called
    /// party). Set it while routing (<see cref="SessionRouter.Fallback"/>) or from an extension.
    /// </summary>
    public bool DeferAnswer { get; set; }

    /// <summary>
    /// Whether this session's SDP is given by the application as text (<see cref="CallOptions.Sdp"/>,
    /// <see cref="AnswerWithSdpAsync(int, string)"/>) and no SDP handler opens media: media flows end to end
    /// (a bridge with direct_media). A re-INVITE's offer is answered with the last SDP given, its
    /// direction mirrored.
    /// </summary>
    public bool IsMediaPassthrough => _passthroughLocal != null;

    /// <summary>The caller's offer as SDP text (null without one). Read it on the servant.</summary>
    public string? InitialOfferSdp
    {
        get
        {
            if (_initialOfferSdp == null)
            {
                var offer = PendingRemoteOffer();
                if (offer != null)
                    _initialOfferSdp = SdpNative.Print(offer);
            }
            return _initialOfferSdp;
        }
    }

    private string? _initialOfferSdp;

    /// <summary>The streams the caller offered in its INVITE (empty when it had no offer). Read it on the servant.</summary>
    public IReadOnlyList<SdpMediaDescription> InitialOffer
    {
        get
        {
            if (_initialOffer == null)
            {
                var offer = PendingRemoteOffer();
                if (offer != null)
                    _initialOffer = SdpNative.Read(offer);
            }
            return _initialOffer ?? [];
        }
    }

    /// <summary>The peer's offer while it waits for this side's answer, else null.</summary>
    private pjmedia_sdp_session* PendingRemoteOffer()
    {
        if (Inv == null || Inv->neg == null
            || PjmediaSdpNeg.pjmedia_sdp_neg_get_state(Inv->neg) != pjmedia_sdp_neg_state.PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER)
            return null;
        pjmedia_sdp_session* offer;
        return PjmediaSdpNeg.pjmedia_sdp_neg_get_neg_remote(Inv->neg, &offer) == ThrowHelper.Success ? offer : null;
    }

    /// <summary>A provisional response (180, 183, ...) arrived for this outgoing call; raised on the servant.</summary>
    public event EventHandler<SessionProgressEventArgs>? Progress;

    /// <summary>An in-dialog INFO (DTMF included) or MESSAGE arrived, in arrival order; raised on the servant before it is answered 200.</summary>
    public event EventHandler<SessionMessage>? RequestReceived;

    /// <summary>The peer's re-INVITE or UPDATE offer was answered (hold, resume, a new address); raised on the servant.</summary>
    public event EventHandler<RemoteOfferEventArgs>? RemoteOfferAnswered;

    /// <summary>Seed API: the identity of the remote party.</summary>
    public SessionIdentity GetIdentity() => RemoteIdentity;

    internal ulong Key { get; }

    internal pjsip_inv_session* Inv { get; private set; }

    internal pjsip_dialog* Dialog { get; private set; }

    internal bool IsAttached => Inv != null;

    internal nint HandleValue => GCHandle.ToIntPtr(_self);

    internal bool IsIncomingInvitePending { get; set; }

    /// <summary>This side's SDP of the last completed offer/answer (being applied, or active in pjmedia's negotiator).</summary>
    internal pjmedia_sdp_session* NegotiatedLocal
    {
        get
        {
            if (_negotiatedLocal != null || Inv == null || Inv->neg == null)
                return _negotiatedLocal;
            pjmedia_sdp_session* local;
            return PjmediaSdpNeg.pjmedia_sdp_neg_get_active_local(Inv->neg, &local) == ThrowHelper.Success ? local : null;
        }
        private set => _negotiatedLocal = value;
    }

    /// <summary>The peer's SDP of the last completed offer/answer.</summary>
    internal pjmedia_sdp_session* NegotiatedRemote
    {
        get
        {
            if (_negotiatedRemote != null || Inv == null || Inv->neg == null)
                return _negotiatedRemote;
            pjmedia_sdp_session* remote;
            return PjmediaSdpNeg.pjmedia_sdp_neg_get_active_remote(Inv->neg, &remote) == ThrowHelper.Success ? remote : null;
        }
        private set => _negotiatedRemote = value;
    }

    private pjmedia_sdp_session* _negotiatedLocal;
    private pjmedia_sdp_session* _negotiatedRemote;

    internal bool IsOnServant => SessionService.CurrentKey == Key && Key != 0;

    internal void ThrowIfNotOnServant()
    {
        if (!IsOnServant)
            throw new InvalidOperationException("This must run on the session's servant; use InvokeAsync.");
    }

    internal static SipSession? FromHandle(nint value)
    {
        if (value == 0)
            return null;
        return GCHandle.FromIntPtr(value).Target as SipSession;
    }

    internal void Attach(pjsip_inv_session* inv)
    {
        Inv = inv;
        Dialog = inv->dlg;
        _ = PjsipUaSipInv.pjsip_inv_add_ref(inv);
        _inviteHandle = new InviteSessionHandle((nint)inv);
        inv->mod_data[Service.ModuleIdForSessions] = HandleValue;
        ThrowHelper.ThrowIfFailed(PjsipSipDialog.pjsip_dlg_add_usage(Dialog, Service.Module, (void*)HandleValue), "pjsip_dlg_add_usage");
        CallId = PjStr.ToManagedString(Dialog->call_id->id);
        LocalUri = PjSharp.Messages.MessageReader.PrintUri(pjsip_uri_context_e.PJSIP_URI_IN_FROMTO_HDR, Dialog->local.info->uri);
        RemoteUri = PjSharp.Messages.MessageReader.PrintUri(pjsip_uri_context_e.PJSIP_URI_IN_FROMTO_HDR, Dialog->remote.info->uri);
        State = (SessionState)(int)inv->state;
    }

    /// <summary>Runs <paramref name="work"/> on the session's servant (inline when already there).</summary>
    public Task<T> InvokeAsync<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (IsOnServant)
        {
            try
            {
                return Task.FromResult(work());
            }
            catch (Exception exception)
            {
                return Task.FromException<T>(exception);
            }
        }
        var item = new SessionCall<T>(this, work);
        if (!Service.Servants.TryEnqueue(Key, item))
            return Task.FromException<T>(new InvalidOperationException($"The session's servant is full or stopping; call {CallId} cannot take more work now."));
        return item.Completion.Task;
    }

    /// <summary>Runs <paramref name="work"/> on the session's servant (inline when already there).</summary>
    public Task InvokeAsync(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return InvokeAsync<bool>(() =>
        {
            work();
            return true;
        });
    }

    /// <summary>Sends a provisional response (180 Ringing by default); reliable when 100rel is in use.</summary>
    public Task RingAsync(int statusCode = 180) => AnswerAsync(statusCode);

    /// <summary>Answers an incoming call: 200 by default, or a provisional 18x (183 carries the SDP answer: early media).</summary>
    public Task AnswerAsync(int statusCode = 200, string? reason = null)
    {
        if (statusCode is < 101 or > 299)
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "Answer with 1xx or 2xx; reject with RejectAsync.");
        return InvokeAsync(() => Respond(statusCode, reason));
    }

    /// <summary>
    /// Answers an incoming call whose answer was deferred with this SDP, as is: no SDP handler takes
    /// part and the session's media passes through (see <see cref="IsMediaPassthrough"/>).
    /// </summary>
    public Task AnswerWithSdpAsync(int statusCode, string sdp)
    {
        if (statusCode is < 180 or > 299)
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "Answer with an SDP in 18x or 2xx.");
        ArgumentException.ThrowIfNullOrEmpty(sdp);
        return InvokeAsync(() =>
        {
            _passthroughLocal = sdp;
            Respond(statusCode, null);
        });
    }

    /// <summary>Sends a re-INVITE (or UPDATE) with this SDP as the offer, as is, on a passthrough session; the result is the final status.</summary>
    public Task<int> ReinviteAsync(string sdp, bool useUpdate = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(sdp);
        return InvokeAsync(() =>
        {
            _passthroughLocal = sdp;
            return SendOfferAsync(null, useUpdate);
        }).Unwrap();
    }

    internal void UsePassthroughOffer(string sdp) => _passthroughLocal = sdp;

    /// <summary>The peer's side of the last completed offer/answer, as SDP text; null before one. Read it on the servant.</summary>
    public string? RemoteSdp
    {
        get
        {
            if (Inv == null || Inv->neg == null)
                return null;
            pjmedia_sdp_session* remote;
            return PjmediaSdpNeg.pjmedia_sdp_neg_get_active_remote(Inv->neg, &remote) == ThrowHelper.Success ? SdpNative.Print(remote) : null;
        }
    }

    /// <summary>Rejects an incoming call that has not been answered (486 Busy Here, 603 Decline, ...).</summary>
    public Task RejectAsync(int statusCode = 603, string? reason = null)
    {
        if (statusCode is < 300 or > 699)
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "Reject with a 3xx-6xx status.");
        return InvokeAsync(() => End(statusCode, reason));
    }

    /// <summary>Ends the call as fits its state: CANCEL an unanswered outgoing call, reject an unanswered incoming one (603), BYE otherwise.</summary>
    public Task HangupAsync() => InvokeAsync(() => End(0, null));

    /// <summary>Puts the peer on hold: a re-INVITE (or UPDATE) offering sendonly, or inactive.</summary>
    public Task<int> HoldAsync(SdpDirection direction = SdpDirection.SendOnly, bool useUpdate = false)
    {
        if (direction is not (SdpDirection.SendOnly or SdpDirection.Inactive))
            throw new ArgumentOutOfRangeException(nameof(direction), direction, "Hold with sendonly or inactive.");
        return SendOfferAsync(direction, useUpdate);
    }

    /// <summary>Takes the peer off hold: a re-INVITE (or UPDATE) offering sendrecv.</summary>
    public Task<int> ResumeAsync(bool useUpdate = false) => SendOfferAsync(SdpDirection.SendRecv, useUpdate);

    /// <summary>Seed API: sends a re-INVITE with a fresh offer from the SDP handlers; the result is the final status.</summary>
    public Task<int> ReinviteAsync() => SendOfferAsync(null, useUpdate: false);

    /// <summary>Sends an UPDATE with a fresh offer (RFC 3311); the result is the final status.</summary>
    public Task<int> UpdateAsync() => SendOfferAsync(null, useUpdate: true);

    /// <summary>Sends an in-dialog request (INFO, MESSAGE, ...); the result is its final status (408 on timeout).</summary>
    public Task<int> SendRequestAsync(string method, string? contentType = null, string? body = null) =>
        SendRequestAsync(method, contentType, body, []);

    /// <summary>Sends an in-dialog request with extra headers; the result is its final status (408 on timeout).</summary>
    public Task<int> SendRequestAsync(string method, string? contentType, string? body, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(headers);
        return InvokeAsync(() => SendRequest(method, contentType, body, headers)).Unwrap();
    }

    /// <summary>Whether a NOTIFY of the refer event package has a transfer of ours to report on.</summary>
    internal bool AwaitsTransferReport => Volatile.Read(ref _outgoingTransfer) != null;

    /// <summary>A NOTIFY's report of our transfer (the status line of its sipfrag; 0 when it had none), on the servant.</summary>
    internal void ReceiveTransferReport(int status, bool subscriptionTerminated)
    {
        if (Volatile.Read(ref _outgoingTransfer) is not { } report)
            return;
        if (status >= 200)
            report.TrySetResult(status);
        else if (subscriptionTerminated)
            report.TrySetResult(0);
    }

    /// <summary>
    /// Handles a REFER received in this call (a transfer). Without one, REFER is answered 501. It runs on
    /// the session's servant after the 202 and must not block; it reports progress with
    /// <see cref="TransferRequest.NotifyAsync"/>.
    /// </summary>
    public Action<TransferRequest>? TransferHandler { get; set; }

    /// <summary>
    /// Answers <paramref name="request"/> from an extension's incoming-request hook that rejects it.
    /// For the INVITE that created the session, this ends the session with that status.
    /// </summary>
    public void Reject(SipRequest request, int statusCode, string? reason = null)
    {
        ThrowIfNotOnServant();
        if (statusCode is < 300 or > 699)
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "Reject with a 3xx-6xx status.");
        if (IsIncomingInvitePending && request.Method == SipMethod.Invite && !request.IsInDialog)
        {
            End(statusCode, reason);
            return;
        }
        request.RespondStateful(statusCode, reason);
    }

    internal static bool IsDtmfDigit(char digit) => digit is (>= '0' and <= '9') or '*' or '#' or (>= 'A' and <= 'D') or (>= 'a' and <= 'd');

    internal void ReceiveDtmf(char digit, DtmfSource source) => _dtmf.Writer.TryWrite(new DtmfDigit(char.ToUpperInvariant(digit), source));

    internal void ReceiveMessage(SessionMessage message) => _messages.Writer.TryWrite(message);

    internal void RaiseRequestReceived(SessionMessage message)
    {
        var handlers = RequestReceived;
        if (handlers == null)
            return;
        try
        {
            handlers(this, message);
        }
#pragma warning disable CA1031 // An application's handler must not keep the request from its answer.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Service.Log.ApplicationFailed(exception, CallId);
        }
    }

    private void Respond(int statusCode, string? reason)
    {
        ThrowIfEnded();
        if (Direction != SessionDirection.Inbound)
            throw new InvalidOperationException("Only an incoming call is answered.");
        if (State is SessionState.Connecting or SessionState.Confirmed)
            throw new InvalidOperationException("The call is already answered.");
        pjmedia_sdp_session* offer = null;
        if (statusCode >= 200 && Inv->neg == null)
            offer = BuildOffer(); // The INVITE had no offer: the 200 carries ours (RFC 3261 §13.2.1).
        else if ((statusCode >= 200 || statusCode == 183) && Inv->neg != null
            && PjmediaSdpNeg.pjmedia_sdp_neg_get_state(Inv->neg) == pjmedia_sdp_neg_state.PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER)
        {
            // A deferred answer: built now, from what the application chose meanwhile.
            _ = InitialOffer;
            pjmedia_sdp_session* remote;
            ThrowHelper.ThrowIfFailed(PjmediaSdpNeg.pjmedia_sdp_neg_get_neg_remote(Inv->neg, &remote), "reading the offer");
            var answer = BuildAnswer(remote);
            if (answer == null)
                throw new InvalidOperationException("No offered stream is acceptable; reject the call with 488.");
            ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_set_sdp_answer(Inv, answer), "pjsip_inv_set_sdp_answer");
        }
        var reasonText = reason == null ? null : PjStr.NulTerminated(reason);
        pjsip_tx_data* tdata;
        fixed (byte* reasonPointer = reasonText)
        {
            var text = PjStr.FromPointer(reasonPointer, reasonText == null ? 0 : reasonText.Length - 1);
            ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_answer(Inv, statusCode, reason == null ? null : &text, offer, &tdata), $"answering {statusCode}");
        }
        Send(tdata, "sending the answer");
        if (statusCode >= 200)
            IsIncomingInvitePending = false;
    }

    internal void End(int statusCode, string? reason)
    {
        if (_finished || Inv == null || Inv->state == pjsip_inv_state.PJSIP_INV_STATE_DISCONNECTED)
            return;
        if (statusCode == 0)
            statusCode = Direction == SessionDirection.Inbound && IsIncomingInvitePending ? 603 : 0;
        var reasonText = reason == null ? null : PjStr.NulTerminated(reason);
        pjsip_tx_data* tdata = null;
        fixed (byte* reasonPointer = reasonText)
        {
            var text = PjStr.FromPointer(reasonPointer, reasonText == null ? 0 : reasonText.Length - 1);
            ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_end_session(Inv, statusCode, reason == null ? null : &text, &tdata), "ending the session");
        }
        // No message when a CANCEL must wait for a provisional response; pjsip sends it then.
        if (tdata != null)
        {
            AddTraceHeaders(tdata);
            Send(tdata, "ending the session");
        }
        IsIncomingInvitePending = false;
    }

    /// <summary>Ends the INVITE session at once, without a message (it was never sent).</summary>
    internal void Terminate(int statusCode)
    {
        if (!_finished && Inv != null)
            _ = PjsipUaSipInv.pjsip_inv_terminate(Inv, statusCode, 1);
    }

    private Task<int> SendOfferAsync(SdpDirection? direction, bool useUpdate) => InvokeAsync(() =>
    {
        ThrowIfEnded();
        if (State != SessionState.Confirmed && !(useUpdate && State is SessionState.Early or SessionState.Connecting))
            throw new InvalidOperationException($"A new offer needs a confirmed session (state {State}).");
        if (_pendingOffer != null)
            throw new InvalidOperationException("An offer is already in progress on this session.");
        if (direction is { } wanted)
            _wantedDirection = wanted;
        var offer = BuildOffer();
        pjsip_tx_data* tdata;
        if (useUpdate)
            ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_update(Inv, null, offer, &tdata), "pjsip_inv_update");
        else
            ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_reinvite(Inv, null, offer, &tdata), "pjsip_inv_reinvite");
        AddTraceHeaders(tdata);
        var pending = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pendingOffer = pending;
        try
        {
            Send(tdata, useUpdate ? "sending UPDATE" : "sending re-INVITE");
        }
        catch
        {
            _pendingOffer = null;
            throw;
        }
        return pending.Task;
    }).Unwrap();

    private Task<int> SendRequest(string method, string? contentType, string? body, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        ThrowIfEnded();
        var pool = Dialog->pool;
        var methodText = PjStr.FromPool(pool, method);
        pjsip_method pjMethod;
        PjsipSipMsg.pjsip_method_init_np(&pjMethod, &methodText);
        pjsip_tx_data* tdata;
        ThrowHelper.ThrowIfFailed(PjsipSipDialog.pjsip_dlg_create_request(Dialog, &pjMethod, -1, &tdata), $"creating {method}");
        if (body != null)
        {
            var (type, subtype) = SplitContentType(contentType ?? "text/plain");
            var typeText = PjStr.FromPool(tdata->pool, type);
            var subtypeText = PjStr.FromPool(tdata->pool, subtype);
            var bodyText = PjStr.FromPool(tdata->pool, body);
            tdata->msg->body = PjsipSipMsg.pjsip_msg_body_create(tdata->pool, &typeText, &subtypeText, &bodyText);
        }
        foreach (var (name, value) in headers)
            PjSharp.Messages.StatelessResponse.AddHeader(tdata, Encoding.UTF8.GetBytes(name), Encoding.UTF8.GetBytes(value));
        AddTraceHeaders(tdata);
        var pending = new PendingRequest();
        var handle = GCHandle.Alloc(pending);
        var status = PjsipSipDialog.pjsip_dlg_send_request(Dialog, tdata, Service.ModuleIdForSessions, (void*)GCHandle.ToIntPtr(handle));
        if (status != ThrowHelper.Success)
        {
            handle.Free();
            ThrowHelper.Throw(status, $"sending {method}");
        }
        return pending.Completion.Task;
    }

    private static (string Type, string Subtype) SplitContentType(string contentType)
    {
        var slash = contentType.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? (contentType, "") : (contentType[..slash].Trim(), contentType[(slash + 1)..].Trim());
    }

    /// <summary>A request of this session carries its trace (W3C <c>traceparent</c>, <c>tracestate</c>), as its INVITE did; nothing when it has none.</summary>
    internal void AddTraceHeaders(pjsip_tx_data* tdata)
    {
        if (PjSharp.Diagnostics.PjSharpActivities.TraceParentOf(TraceContext) is not { } traceParent)
            return;
        PjSharp.Messages.StatelessResponse.AddHeader(tdata, "traceparent"u8, Encoding.ASCII.GetBytes(traceParent));
        if (TraceContext.TraceState is { Length: > 0 } traceState)
            PjSharp.Messages.StatelessResponse.AddHeader(tdata, "tracestate"u8, Encoding.UTF8.GetBytes(traceState));
    }

    private void Send(pjsip_tx_data* tdata, string operation) =>
        ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_send_msg(Inv, tdata), operation);

    private void ThrowIfEnded()
    {
        if (_finished || Inv == null)
            throw new InvalidOperationException("The session has ended.");
    }

    /// <summary>An offer from every registered SDP handler, parsed into the dialog's pool.</summary>
    internal pjmedia_sdp_session* BuildOffer()
    {
        if (_passthroughLocal != null)
            return SdpNative.Parse(Dialog->pool, _passthroughLocal);
        var streams = new List<SdpMediaDescription>();
        var owners = new List<SdpHandler>();
        foreach (var handler in Service.SdpHandlers)
        {
            var stream = handler.CreateOffer(this, _wantedDirection);
            if (stream == null)
                continue;
            Join(handler);
            streams.Add(stream);
            owners.Add(handler);
        }
        if (streams.Count == 0)
            throw new InvalidOperationException("No SDP handler offered a stream.");
        var sdp = Parse(streams);
        for (var i = 0; i < owners.Count; i++)
            owners[i].EncodeTransport(this, Dialog->pool, sdp, i, null, 0);
        return sdp;
    }

    /// <summary>This side's capabilities for <paramref name="offer"/>; null when no handler takes any stream.</summary>
    internal pjmedia_sdp_session* BuildAnswer(pjmedia_sdp_session* offer)
    {
        if (_passthroughLocal != null)
        {
            // Passthrough: the last SDP given, answering the offer's direction (a hold is answered at once).
            var offeredStreams = SdpNative.Read(offer);
            var direction = offeredStreams.Count == 0 ? SdpDirection.SendRecv
                : offeredStreams[0].ConnectionAddress is "0.0.0.0" ? SdpDirection.Inactive : offeredStreams[0].Direction;
            LastRemoteOfferSdp = SdpNative.Print(offer);
            _passthroughLocal = SdpText.WithDirection(_passthroughLocal, direction switch
            {
                SdpDirection.SendOnly => SdpDirection.RecvOnly,
                SdpDirection.RecvOnly => SdpDirection.SendOnly,
                _ => direction,
            });
            return SdpNative.Parse(Dialog->pool, _passthroughLocal);
        }
        var offered = SdpNative.Read(offer);
        var streams = new List<SdpMediaDescription>();
        var owners = new List<(SdpHandler Handler, int OfferIndex)>();
        var used = new HashSet<SdpHandler>();
        foreach (var stream in offered)
        {
            var handler = Service.FindSdpHandler(stream.Media);
            if (handler == null || stream.Port == 0 || !used.Add(handler))
                continue;
            var local = handler.CreateAnswer(this, stream, _wantedDirection);
            if (local == null)
                continue;
            Join(handler);
            streams.Add(local);
            owners.Add((handler, stream.Index));
        }
        if (streams.Count == 0)
            return null;
        var sdp = Parse(streams);
        for (var i = 0; i < owners.Count; i++)
            owners[i].Handler.EncodeTransport(this, Dialog->pool, sdp, i, offer, owners[i].OfferIndex);
        return sdp;
    }

    private void Join(SdpHandler handler)
    {
        if (!_handlers.Contains(handler))
            _handlers.Add(handler);
    }

    private pjmedia_sdp_session* Parse(List<SdpMediaDescription> streams) =>
        SdpNative.Parse(Dialog->pool, SdpNative.Write(MediaAddress, _sdpSessionId, ++_sdpVersion, streams));

    /// <summary>pjsip negotiated (or failed to): each handler applies its streams.</summary>
    internal void OnMediaUpdate(int status)
    {
        if (status != ThrowHelper.Success || Inv->neg == null)
        {
            Service.Log.MediaNegotiationFailed(CallId, ThrowHelper.StatusText(status));
            return;
        }
        pjmedia_sdp_session* local, remote;
        if (PjmediaSdpNeg.pjmedia_sdp_neg_get_active_local(Inv->neg, &local) != ThrowHelper.Success
            || PjmediaSdpNeg.pjmedia_sdp_neg_get_active_remote(Inv->neg, &remote) != ThrowHelper.Success)
            return;
        NegotiatedLocal = local;
        NegotiatedRemote = remote;
        var remoteOffer = RemoteOfferPending;
        RemoteOfferPending = false;
        List<SdpMediaDescription>? remoteStreams = null;
        try
        {
            var localStreams = SdpNative.Read(local);
            remoteStreams = SdpNative.Read(remote);
            var applied = new HashSet<SdpHandler>();
            for (var i = 0; i < localStreams.Count && i < remoteStreams.Count; i++)
            {
                var handler = _handlers.Find(h => h.MediaType == localStreams[i].Media);
                if (handler == null || (localStreams[i].Port == 0 && applied.Contains(handler)))
                    continue;
                if (localStreams[i].Port != 0 || !applied.Contains(handler))
                {
                    applied.Add(handler);
                    try
                    {
                        handler.Apply(this, localStreams[i], remoteStreams[i]);
                    }
#pragma warning disable CA1031 // A handler's failure costs its stream, not the call or the pjsip thread.
                    catch (Exception exception)
#pragma warning restore CA1031
                    {
                        Service.Log.SdpHandlerFailed(exception, handler.MediaType, CallId);
                    }
                }
            }
        }
        finally
        {
            NegotiatedLocal = null;
            NegotiatedRemote = null;
        }
        if (remoteOffer && remoteStreams is { Count: > 0 })
            OnRemoteOfferAnswered(remoteStreams[0].Port == 0 || remoteStreams[0].ConnectionAddress is "0.0.0.0" ? SdpDirection.Inactive : remoteStreams[0].Direction);
    }

    internal void OnStateChanged(pjsip_inv_state state)
    {
        State = (SessionState)(int)state;
        switch (state)
        {
            case pjsip_inv_state.PJSIP_INV_STATE_CONFIRMED:
            case pjsip_inv_state.PJSIP_INV_STATE_CONNECTING:
                _wasConnected = true;
                IsIncomingInvitePending = false;
                _answered.TrySetResult(200);
                break;
            case pjsip_inv_state.PJSIP_INV_STATE_DISCONNECTED:
                _finalStatus = (int)Inv->cause;
                var reason = PjStr.ToManagedString(Inv->cause_text);
                if (!_wasConnected)
                    _answered.TrySetResult(_finalStatus);
                // Release media and references after pjsip's callback returns, in order with the rest.
                _ = InvokeAsync(() => Finish(reason));
                break;
        }
    }

    /// <summary>A transaction of the dialog changed state: complete whoever waits for its final response.</summary>
    internal void OnTransactionState(pjsip_transaction* tsx, pjsip_event* e)
    {
        if (tsx->role != pjsip_role_e.PJSIP_ROLE_UAC)
        {
            if (tsx->state == pjsip_tsx_state_e.PJSIP_TSX_STATE_TRYING && e != null && e->type == pjsip_event_id_e.PJSIP_EVENT_TSX_STATE
                && e->body.tsx_state.type == pjsip_event_id_e.PJSIP_EVENT_RX_MSG && !_finished)
            {
                _remoteOfferMethod = tsx->method.id == pjsip_method_e.PJSIP_INVITE_METHOD ? "INVITE" : PjStr.ToManagedString(tsx->method.name);
                Service.AnswerInDialog(this, e->body.tsx_state.src.rdata);
            }
            return;
        }
        if (e != null && e->type == pjsip_event_id_e.PJSIP_EVENT_TSX_STATE && e->body.tsx_state.type == pjsip_event_id_e.PJSIP_EVENT_RX_MSG)
            NoteConnection(e->body.tsx_state.src.rdata);
        if (tsx == Inv->invite_tsx && tsx->state == pjsip_tsx_state_e.PJSIP_TSX_STATE_PROCEEDING && tsx->status_code is > 100 and < 200
            && e != null && e->body.tsx_state.type == pjsip_event_id_e.PJSIP_EVENT_RX_MSG)
        {
            var rdata = e->body.tsx_state.src.rdata;
            RaiseProgress(tsx->status_code, rdata->msg_info.msg->body != null);
            return;
        }
        var final = tsx->state is pjsip_tsx_state_e.PJSIP_TSX_STATE_COMPLETED or pjsip_tsx_state_e.PJSIP_TSX_STATE_TERMINATED;
        if (!final || tsx->status_code < 200)
            return;
        var slot = Service.ModuleIdForSessions;
        if (tsx->mod_data[slot] != 0)
        {
            var handle = GCHandle.FromIntPtr(tsx->mod_data[slot]);
            tsx->mod_data[slot] = 0;
            if (handle.Target is PendingRequest pending)
                pending.Completion.TrySetResult(tsx->status_code);
            handle.Free();
            return;
        }
        var isInvite = tsx->method.id == pjsip_method_e.PJSIP_INVITE_METHOD;
        var isUpdate = PjStr.EqualsIgnoreCase(tsx->method.name, "UPDATE"u8);
        if ((isInvite && tsx != Inv->invite_tsx) || isUpdate || (isInvite && Inv->state == pjsip_inv_state.PJSIP_INV_STATE_CONFIRMED))
        {
            var offer = _pendingOffer;
            _pendingOffer = null;
            offer?.TrySetResult(tsx->status_code);
        }
    }

    private void RaiseProgress(int statusCode, bool hasSdp)
    {
        try
        {
            Progress?.Invoke(this, new SessionProgressEventArgs(statusCode, hasSdp));
        }
#pragma warning disable CA1031 // An application's handler must not break pjsip's callback.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Service.Log.ApplicationFailed(exception, CallId);
        }
    }

    /// <summary>The peer's offer in a re-INVITE or UPDATE was just answered and applied.</summary>
    internal void OnRemoteOfferAnswered(SdpDirection remoteDirection)
    {
        var handlers = RemoteOfferAnswered;
        if (handlers == null)
            return;
        try
        {
            handlers(this, new RemoteOfferEventArgs(_remoteOfferMethod ?? "INVITE", remoteDirection) { Sdp = LastRemoteOfferSdp });
        }
#pragma warning disable CA1031 // An application's handler must not break pjsip's callback.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Service.Log.ApplicationFailed(exception, CallId);
        }
    }

    internal bool RemoteOfferPending { get; set; }

    /// <summary>For a peer on a WebSocket connection, "address|port" of it: the call cannot outlive that socket.</summary>
    internal string? Connection { get; private set; }

    internal void NoteConnection(pjsip_rx_data* rdata)
    {
        if (Connection != null || rdata == null)
            return;
        var transport = PjSharp.Messages.MessageReader.TransportName(rdata);
        if (!transport.StartsWith("WS", StringComparison.OrdinalIgnoreCase))
            return;
        if (PjSharp.Messages.MessageReader.SourceEndPoint(rdata) is { } source)
            Connection = ConnectionKey(source.Address.ToString(), source.Port);
    }

    internal static string ConnectionKey(string address, int port) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{address}|{port}");

    /// <summary>The peer's last re-INVITE or UPDATE offer on a passthrough session, as text.</summary>
    internal string? LastRemoteOfferSdp { get; private set; }

    internal void Finish(string reason)
    {
        if (_finished)
            return;
        _finished = true;
        foreach (var handler in _handlers)
        {
            try
            {
                handler.Release(this);
            }
#pragma warning disable CA1031 // One handler's failure must not keep the others' media open.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Service.Log.SdpHandlerFailed(exception, handler.MediaType, CallId);
            }
        }
        _pendingOffer?.TrySetResult(481);
        _pendingOffer = null;
        _answered.TrySetResult(_finalStatus == 0 ? 487 : _finalStatus);
        Service.Forget(this);
        var inv = Inv;
        if (inv != null)
        {
            var dialog = Dialog;
            PjsipSipDialog.pjsip_dlg_inc_lock(dialog);
            inv->mod_data[Service.ModuleIdForSessions] = 0;
            dialog->mod_data[Service.ModuleIdForSessions] = 0;
            PjsipSipDialog.pjsip_dlg_dec_lock(dialog);
        }
        Inv = null;
        Dialog = null;
        _inviteHandle?.Dispose();
        if (_self.IsAllocated)
            _self.Free();
        var end = new SessionEnd(_wasConnected ? 200 : (_finalStatus == 0 ? 487 : _finalStatus), reason, _wasConnected);
        Service.Log.SessionEnded(CallId, Direction, end.StatusCode, reason);
        _completion.TrySetResult(end);
        try
        {
            _ended.Cancel();
        }
#pragma warning disable CA1031 // An application's cancellation callback must not break the teardown.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Service.Log.ApplicationFailed(exception, CallId);
        }
        // After the cancellation: an application reading with the Ended token sees the end of the
        // call as that cancellation (a quiet end), not as a ChannelClosedException (a failure).
        _dtmf.Writer.TryComplete();
        _messages.Writer.TryComplete();
    }

    public override string ToString() => $"{Direction} session {CallId} ({State})";

    private sealed class PendingRequest
    {
        public TaskCompletionSource<int> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class SessionCall<T>(SipSession session, Func<T> work) : ServantWork
    {
        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override ValueTask RunAsync(CancellationToken cancellationToken)
        {
            var previous = SessionService.CurrentKey;
            SessionService.CurrentKey = session.Key;
            try
            {
                PjThread.EnsureRegistered();
                Completion.TrySetResult(work());
            }
#pragma warning disable CA1031 // The caller gets the failure through its task.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Completion.TrySetException(exception);
            }
            finally
            {
                SessionService.CurrentKey = previous;
            }
            return ValueTask.CompletedTask;
        }
    }
}
