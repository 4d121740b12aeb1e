using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.DataAccess;
using PjSharp.Interception;
using PjSharp.Interop;
using PjSharp.Media;
using PjSharp.Servants;
using PjSharp.Services;

namespace PjSharp.Sessions;

/// <summary>
/// The session core (the seed's res_sip_session): takes INVITE and the in-dialog requests that
/// belong to calls, runs interception's verdict, creates the session over pjsip's INVITE session,
/// calls the extensions and SDP handlers, and routes the call to an application.
/// <para>
/// Every message of a call goes to that call's servant (keyed by Call-ID) before pjsip's
/// transaction and dialog layers see it, so pjsip's callbacks, the extensions, the SDP handlers
/// and the public methods of one call run one at a time, in order, off pjsip's threads.
/// Register it like any service: <c>endpoint.RegisterService(sessions)</c>.
/// </para>
/// </summary>
public sealed unsafe partial class SessionService : SipService, IAsyncDisposable
{
    [ThreadStatic]
    private static ulong t_currentKey;
    private static int s_moduleId = -1;

    private readonly SipEndpoint _endpoint;
    private readonly InterceptionPipeline? _interception;
    private readonly SessionDistributor _distributor;
    private readonly ServantDispatcher<ulong> _servants;
    private readonly bool _ownsServants;
    private readonly Lock _gate = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, int> _keys = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<SipSession, byte> _sessions = new();
    private volatile SessionExtension[] _extensions = [];
    private volatile SdpHandler[] _sdpHandlers = [];
    private MediaEndpoint? _media;
    private long _started;

    public SessionService(SipEndpoint endpoint, SessionServiceOptions? options = null, InterceptionPipeline? interception = null,
        ServantDispatcher<ulong>? servants = null, ILogger? logger = null)
        : base("pjsharp-session", SipServicePriority.Application)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endpoint = endpoint;
        Options = options ?? new SessionServiceOptions();
        _interception = interception;
        Log = logger ?? NullLogger.Instance;
        _ownsServants = servants == null;
        _servants = servants ?? new ServantDispatcher<ulong>(new ServantOptions { Name = "sessions", MaxQueuedPerKey = Options.MaxQueuedPerCall }, logger: Log);
        _distributor = new SessionDistributor(this);
        RtpPorts = new RtpPortRange(Options.RtpPortStart, Options.RtpPortEnd);
        Router = new SessionRouter();
        _sdpHandlers = [new AudioSdpHandler()];
        _extensions = [new CallerIdentityExtension(), new SessionTimersExtension(), new ReliableProvisionalExtension()];
    }

    public SessionServiceOptions Options { get; }

    /// <summary>Which application takes an incoming call.</summary>
    public SessionRouter Router { get; }

    public override IReadOnlyCollection<string> Methods => ["INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "PRACK", "INFO", "REFER", "NOTIFY"];

    protected internal override bool HandlesOutgoing => true;

    /// <summary>Sessions in progress.</summary>
    public int ActiveSessions => _sessions.Count;

    /// <summary>Sessions created since start.</summary>
    public long SessionsStarted => Interlocked.Read(ref _started);

    public IReadOnlyCollection<SipSession> Sessions => (IReadOnlyCollection<SipSession>)_sessions.Keys;

    /// <summary>The registered extensions, in call order.</summary>
    public IReadOnlyList<SessionExtension> Extensions => _extensions;

    /// <summary>The registered SDP handlers, one per media type, in offer order.</summary>
    public IReadOnlyList<SdpHandler> SdpHandlers => _sdpHandlers;

    public SipEndpoint Endpoint => _endpoint;

    internal ILogger Log { get; }

    internal ServantDispatcher<ulong> Servants => _servants;

    internal RtpPortRange RtpPorts { get; }

    internal MediaEndpoint Media => _media ?? throw new InvalidOperationException("The session service is not registered with an endpoint.");

    internal pjsip_module* Module => NativeModule;

    internal int ModuleIdForSessions => ModuleId;

    /// <summary>The Call-ID key whose servant the current thread is running, 0 when none.</summary>
    internal static ulong CurrentKey
    {
        get => t_currentKey;
        set => t_currentKey = value;
    }

    /// <summary>Adds an extension (runs in <see cref="SessionExtension.Priority"/> order, then registration order).</summary>
    public void AddExtension(SessionExtension extension)
    {
        ArgumentNullException.ThrowIfNull(extension);
        lock (_gate)
        {
            if (Array.IndexOf(_extensions, extension) >= 0)
                throw new InvalidOperationException($"Extension '{extension.Name}' is already registered.");
            var list = _extensions.ToList();
            var index = list.FindLastIndex(e => e.Priority <= extension.Priority) + 1;
            list.Insert(index, extension);
            _extensions = [.. list];
        }
    }

    /// <summary>Removes an extension; true when it was registered. Messages already in flight may still reach it.</summary>
    public bool RemoveExtension(SessionExtension extension)
    {
        lock (_gate)
        {
            if (Array.IndexOf(_extensions, extension) < 0)
                return false;
            _extensions = [.. _extensions.Where(e => !ReferenceEquals(e, extension))];
            return true;
        }
    }

    /// <summary>Makes <paramref name="handler"/> the one for its media type, replacing (and returning) the previous one.</summary>
    public SdpHandler? SetSdpHandler(SdpHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
        {
            var list = _sdpHandlers.ToList();
            var index = list.FindIndex(h => h.MediaType == handler.MediaType);
            SdpHandler? previous = null;
            if (index >= 0)
            {
                previous = list[index];
                list[index] = handler;
            }
            else
            {
                list.Add(handler);
            }
            _sdpHandlers = [.. list];
            return previous;
        }
    }

    /// <summary>Removes the handler of a media type; offered streams of that type are then declined.</summary>
    public SdpHandler? RemoveSdpHandler(string mediaType)
    {
        lock (_gate)
        {
            var previous = Array.Find(_sdpHandlers, h => h.MediaType == mediaType);
            if (previous != null)
                _sdpHandlers = [.. _sdpHandlers.Where(h => !ReferenceEquals(h, previous))];
            return previous;
        }
    }

    internal SdpHandler? FindSdpHandler(string mediaType)
    {
        foreach (var handler in _sdpHandlers)
        {
            if (handler.MediaType == mediaType)
                return handler;
        }
        return null;
    }

    protected internal override void OnRegistered(SipEndpoint endpoint)
    {
        if (Interlocked.CompareExchange(ref s_moduleId, ModuleId, -1) != -1 && s_moduleId != ModuleId)
            throw new InvalidOperationException("Only one session service can be registered in a process.");
        PjThread.EnsureRegistered();
        if (!endpoint.InviteUsageReady)
        {
            var native = endpoint.Native;
            ThrowHelper.ThrowIfFailed(PjsipUaSip100rel.pjsip_100rel_init_module(native), "pjsip_100rel_init_module");
            ThrowHelper.ThrowIfFailed(PjsipUaSipTimer.pjsip_timer_init_module(native), "pjsip_timer_init_module");
            pjsip_inv_callback callbacks = default;
            callbacks.on_state_changed = &OnStateChanged;
            callbacks.on_new_session = &OnNewSession;
            callbacks.on_media_update = &OnMediaUpdate;
            callbacks.on_rx_offer = &OnRxOffer;
            callbacks.on_create_offer = &OnCreateOffer;
            callbacks.on_tsx_state_changed = &OnTransactionState;
            ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_usage_init(native, &callbacks), "pjsip_inv_usage_init");
            endpoint.InviteUsageReady = true;
        }
        if (_media == null)
        {
            _media = new MediaEndpoint(endpoint);
            // Media sockets live in pjsip's ioqueue and pools: they go before pjsip does.
            endpoint.OnDestroying(ReleaseMedia);
        }
        endpoint.RegisterService(_distributor);
    }

    protected internal override void OnUnregistering(SipEndpoint endpoint)
    {
        endpoint.UnregisterService(_distributor);
        Interlocked.Exchange(ref s_moduleId, -1);
    }

    /// <summary>Ends what is left of every call's media and pjmedia itself (pjsip no longer polls).</summary>
    private void ReleaseMedia()
    {
        foreach (var session in _sessions.Keys.ToArray())
            session.Finish("endpoint shut down");
        _media?.Dispose();
        _media = null;
        // The endpoint goes without unregistering its services: the next endpoint may have its own.
        Interlocked.CompareExchange(ref s_moduleId, -1, ModuleId);
    }

    internal static ulong KeyOf(ReadOnlySpan<byte> callId)
    {
        // FNV-1a: a collision only makes two calls share a servant.
        var hash = 14695981039346656037UL;
        foreach (var b in callId)
            hash = (hash ^ b) * 1099511628211UL;
        return hash == 0 ? 1 : hash;
    }

    internal bool IsKnown(ulong key) => _keys.ContainsKey(key);

    internal void Track(SipSession session, System.Diagnostics.ActivityContext parent = default)
    {
        if (Diagnostics.PjSharpActivities.Source.HasListeners())
        {
            session.Activity = Diagnostics.PjSharpActivities.Start("INVITE",
                session.Direction == SessionDirection.Inbound ? System.Diagnostics.ActivityKind.Server : System.Diagnostics.ActivityKind.Client,
                parent, "INVITE", session.CallId, session.Endpoint.Id);
        }
        session.TraceContext = session.Activity?.Context ?? parent;
        _keys.AddOrUpdate(session.Key, 1, (_, count) => count + 1);
        _sessions.TryAdd(session, 0);
        Interlocked.Increment(ref _started);
    }

    internal void Forget(SipSession session)
    {
        if (!_sessions.TryRemove(session, out _))
            return;
        Diagnostics.PjSharpActivities.Stop(session.Activity, session.FinalStatus);
        session.Activity = null;
        while (true)
        {
            if (!_keys.TryGetValue(session.Key, out var count))
                break;
            if (count <= 1 ? ((ICollection<KeyValuePair<ulong, int>>)_keys).Remove(new(session.Key, count)) : _keys.TryUpdate(session.Key, count - 1, count))
                break;
        }
    }

    // ---- incoming requests (on the call's servant, re-entered by the distributor) ----

    public override bool OnRequest(SipRequest request)
    {
        var dialog = PjsipSipDialog.pjsip_rdata_get_dlg(request.Native);
        if (dialog != null)
        {
            var session = SipSession.FromHandle(dialog->mod_data[ModuleId]);
            return session != null && ClaimsInDialog(request);
        }
        if (request.Method == SipMethod.Invite && !request.IsInDialog)
        {
            var previous = CurrentKey;
            if (previous == 0)
                CurrentKey = KeyOf(request.CallIdBytes);
            try
            {
                CreateInbound(request);
            }
            finally
            {
                CurrentKey = previous;
            }
            return true;
        }
        if (request.IsInDialog && request.Method is SipMethod.Invite or SipMethod.Bye || (request.IsInDialog && IsSessionMethod(request.MethodName)))
        {
            request.RespondStateless(481);
            return true;
        }
        return false;
    }

    private static bool IsSessionMethod(ReadOnlySpan<byte> method) =>
        method.SequenceEqual("UPDATE"u8) || method.SequenceEqual("PRACK"u8) || method.SequenceEqual("INFO"u8);

    private static bool ClaimsInDialog(SipRequest request)
    {
        // pjsip's INVITE usage answers these itself; the rest are claimed here and answered once
        // their transaction exists (AnswerInDialog): a dialog usage hears of a request before pjsip
        // feeds it to its transaction, and a response sent that early crashes the transaction.
        return request.Method is not (SipMethod.Ack or SipMethod.Bye or SipMethod.Cancel or SipMethod.Invite)
            && !IsInviteUsageMethod(request.MethodName);
    }

    private static bool IsInviteUsageMethod(ReadOnlySpan<byte> method) => method.SequenceEqual("UPDATE"u8) || method.SequenceEqual("PRACK"u8);

    /// <summary>An in-dialog request the INVITE usage does not answer, its transaction just started (on the call's servant).</summary>
    internal void AnswerInDialog(SipSession session, pjsip_rx_data* rdata)
    {
        var request = new SipRequest(_endpoint, rdata, NativeModule);
        if (request.Method is SipMethod.Invite or SipMethod.Ack or SipMethod.Bye or SipMethod.Cancel || IsInviteUsageMethod(request.MethodName))
            return;
        var dialog = session.Dialog;
        var method = request.MethodText;
        switch (method)
        {
            case "INFO":
            {
                var contentType = request.ContentType ?? "";
                var body = Encoding.UTF8.GetString(request.Body);
                session.RaiseRequestReceived(new SessionMessage(method, request.ContentType, body));
                if (DtmfInfo.TryParse(contentType, body, out var digit))
                    session.ReceiveDtmf(digit, DtmfSource.SipInfo);
                else if (body.Length > 0)
                    session.ReceiveMessage(new SessionMessage(method, contentType, body));
                RespondInDialog(dialog, request, 200);
                return;
            }
            case "MESSAGE":
            {
                var message = new SessionMessage(method, request.ContentType, Encoding.UTF8.GetString(request.Body));
                session.RaiseRequestReceived(message);
                session.ReceiveMessage(message);
                RespondInDialog(dialog, request, 200);
                return;
            }
            case "OPTIONS":
                RespondInDialog(dialog, request, 200);
                return;
            case "REFER":
                AnswerRefer(session, dialog, request);
                return;
            case "NOTIFY":
                AnswerNotify(session, dialog, request);
                return;
            default:
                RespondInDialog(dialog, request, 501);
                return;
        }
    }

    /// <summary>A transfer: 202 and a first NOTIFY when the application handles REFER, else 501.</summary>
    private void AnswerRefer(SipSession session, pjsip_dialog* dialog, SipRequest request)
    {
        var handler = session.TransferHandler;
        if (handler == null)
        {
            RespondInDialog(dialog, request, 501);
            return;
        }
        var referTo = request.GetHeader("Refer-To") ?? request.GetHeader("r");
        if (referTo == null || !TransferRequest.TryParseReferTo(referTo, out var uri, out var replaces))
        {
            RespondInDialog(dialog, request, 400);
            return;
        }
        var notify = !string.Equals(request.GetHeader("Refer-Sub")?.Trim(), "false", StringComparison.OrdinalIgnoreCase);
        var transfer = new TransferRequest(session, uri, replaces, request.GetHeader("Referred-By"), notify);
        RespondInDialog(dialog, request, 202);
        _ = transfer.NotifyAsync(100);
        try
        {
            handler(transfer);
        }
#pragma warning disable CA1031 // The firewall for application code: the transfer fails, the call goes on.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            Log.ApplicationFailed(exception, session.CallId);
            _ = transfer.NotifyAsync(500);
        }
    }

    /// <summary>
    /// A NOTIFY in a call: the other party's report on a transfer we asked for (Event: refer, a
    /// message/sipfrag body, RFC 3515). Any other is answered 481: the call holds no such subscription.
    /// </summary>
    private static void AnswerNotify(SipSession session, pjsip_dialog* dialog, SipRequest request)
    {
        var eventPackage = request.GetHeader("Event") ?? request.GetHeader("o");
        if (eventPackage == null || !IsReferEvent(eventPackage) || !session.AwaitsTransferReport)
        {
            RespondInDialog(dialog, request, 481);
            return;
        }
        RespondInDialog(dialog, request, 200);
        var state = request.GetHeader("Subscription-State")?.TrimStart() ?? "";
        session.ReceiveTransferReport(SipFragStatus(request.Body), state.StartsWith("terminated", StringComparison.OrdinalIgnoreCase));
    }

    private static bool IsReferEvent(string value)
    {
        var package = value.AsSpan().Trim();
        var parameters = package.IndexOf(';');
        if (parameters >= 0)
            package = package[..parameters].TrimEnd();
        return package.Equals("refer", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The status code of a message/sipfrag body's status line (<c>SIP/2.0 200 OK</c>); 0 when it has none.</summary>
    internal static int SipFragStatus(ReadOnlySpan<byte> body)
    {
        var line = body.TrimStart(" \t\r\n"u8);
        if (!line.StartsWith("SIP/2.0 "u8))
            return 0;
        var code = line["SIP/2.0 "u8.Length..].TrimStart((byte)' ');
        if (code.Length < 3 || (code.Length > 3 && code[3] is not ((byte)' ' or (byte)'\r' or (byte)'\n')))
            return 0;
        var status = 0;
        for (var i = 0; i < 3; i++)
        {
            if (code[i] is < (byte)'0' or > (byte)'9')
                return 0;
            status = (status * 10) + (code[i] - '0');
        }
        return status is >= 100 and <= 699 ? status : 0;
    }

    /// <summary>
    /// A WebSocket connection closed: the calls with a peer on it end at once, without a BYE that could
    /// not leave (as Asterisk ends sessions whose reliable transport goes). Returns how many.
    /// </summary>
    public int EndSessionsOnConnection(System.Net.IPEndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        var key = SipSession.ConnectionKey(address.ToString(), remote.Port);
        var ended = 0;
        foreach (var session in _sessions.Keys)
        {
            if (session.Connection != key)
                continue;
            ended++;
            _ = session.InvokeAsync(() => session.Terminate(session.IsIncomingInvitePending ? 480 : 408));
        }
        return ended;
    }

    /// <summary>The session of the dialog with this Call-ID, local tag and remote tag, if this service has it.</summary>
    public SipSession? FindSession(string callId, string localTag, string remoteTag)
    {
        ArgumentNullException.ThrowIfNull(callId);
        ArgumentNullException.ThrowIfNull(localTag);
        ArgumentNullException.ThrowIfNull(remoteTag);
        PjThread.EnsureRegistered();
        using var strings = new NativeStrings(callId, localTag, remoteTag);
        var dialog = PjsipSipUaLayer.pjsip_ua_find_dialog(strings[0], strings[1], strings[2], 0);
        return dialog == null ? null : SipSession.FromHandle(dialog->mod_data[ModuleId]);
    }

    private static void RespondInDialog(pjsip_dialog* dialog, SipRequest request, int status) =>
        ThrowHelper.ThrowIfFailed(PjsipSipDialog.pjsip_dlg_respond(dialog, request.Native, status, null, null, null), "pjsip_dlg_respond");

    private void CreateInbound(SipRequest request)
    {
        var rdata = request.Native;
        Endpoint endpoint;
        EndpointIdentity? security = null;
        if (_interception != null)
        {
            security = _interception.GetEndpoint(request, out var authenticated);
            if (security == null || security.IsArtificial || (security.RequiresAuthentication && !authenticated))
            {
                request.RespondStateless(403);
                return;
            }
            endpoint = security.Endpoint;
        }
        else
        {
            endpoint = Options.DefaultEndpoint;
        }

        var setup = new SessionSetup(endpoint, SessionDirection.Inbound);
        foreach (var extension in _extensions)
            extension.OnSessionCreating(setup);
        var options = InviteOptions(setup);
        pjsip_tx_data* verdict = null;
        if (PjsipUaSipInv.pjsip_inv_verify_request(rdata, &options, null, null, _endpoint.Native, &verdict) != ThrowHelper.Success)
        {
            if (verdict != null)
                _ = PjsipSipUtil.pjsip_endpt_send_response2(_endpoint.Native, rdata, verdict, null, null);
            else
                request.RespondStateless(500);
            return;
        }

        // pjsip sends reliable provisionals only when the caller requires them; peer_supported also when it supports them.
        if (setup.Use100RelWhenSupported && Offers(request, "100rel"))
            options |= (uint)pjsip_inv_option.PJSIP_INV_REQUIRE_100REL;

        var local = request.LocalAddress;
        var mediaAddress = Options.MediaAddress ?? local.Address.ToString();
        var contact = ContactFor(local.Address.ToString(), local.Port, request.Transport);
        var contactBytes = Encoding.UTF8.GetBytes(contact);
        pjsip_dialog* dialog;
        int status;
        fixed (byte* contactPointer = contactBytes)
        {
            var contactText = PjStr.FromPointer(contactPointer, contactBytes.Length);
            status = PjsipSipDialog.pjsip_dlg_create_uas_and_inc_lock(PjsipSipUaLayer.pjsip_ua_instance(), rdata, &contactText, &dialog);
        }
        if (status != ThrowHelper.Success)
        {
            request.RespondStateless(500);
            return;
        }
        pjsip_inv_session* inv;
        status = PjsipUaSipInv.pjsip_inv_create_uas(dialog, rdata, null, options, &inv);
        if (status != ThrowHelper.Success)
        {
            _ = PjsipSipDialog.pjsip_dlg_terminate(dialog);
            PjsipSipDialog.pjsip_dlg_dec_lock(dialog);
            request.RespondStateless(500);
            return;
        }
        var session = new SipSession(this, endpoint, security, SessionDirection.Inbound, CurrentKey, mediaAddress);
        try
        {
            session.Attach(inv);
            // Read even when nobody listens here, so that the B2BUA's legs carry the caller's trace on.
            Track(session, Diagnostics.PjSharpActivities.ParentOf(request));
            session.Target = Encoding.UTF8.GetString(request.RequestUriUser);
            session.NoteConnection(rdata);
            session.RemoteIdentity = CallerIdentityExtension.FromHeader(request.GetHeader("From"), IdentitySource.From) ?? session.RemoteIdentity;
            if (!StartTimers(session, setup, rdata))
            {
                // Answered 422; the dialog's lock must still be released or pjsip's threads block on it.
                PjsipSipDialog.pjsip_dlg_dec_lock(dialog);
                return;
            }
            pjsip_tx_data* trying;
            ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_initial_answer(inv, rdata, 100, null, null, &trying), "pjsip_inv_initial_answer");
            ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_send_msg(inv, trying), "sending 100 Trying");
            session.IsIncomingInvitePending = true;
        }
        catch (Exception exception)
        {
            Log.SetupFailed(exception, session.CallId);
            PjsipSipDialog.pjsip_dlg_dec_lock(dialog);
            _ = PjsipUaSipInv.pjsip_inv_terminate(inv, 500, 1);
            return;
        }
        PjsipSipDialog.pjsip_dlg_dec_lock(dialog);

        try
        {
            if (!RunIncomingRequest(session, request))
                return;
            var handler = Router.Find(session);
            if (handler == null)
            {
                Log.CallRejected(session.CallId, session.Target, 404, "no application for this target");
                session.End(404, null);
                return;
            }
            if (!session.DeferAnswer && inv->neg != null && PjmediaSdpNeg.pjmedia_sdp_neg_get_state(inv->neg) == pjmedia_sdp_neg_state.PJMEDIA_SDP_NEG_STATE_REMOTE_OFFER)
            {
                pjmedia_sdp_session* offer;
                ThrowHelper.ThrowIfFailed(PjmediaSdpNeg.pjmedia_sdp_neg_get_neg_remote(inv->neg, &offer), "reading the offer");
                var answer = session.BuildAnswer(offer);
                if (answer == null)
                {
                    Log.CallRejected(session.CallId, session.Target, 488, "no offered stream is acceptable");
                    session.End(488, null);
                    return;
                }
                ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_set_sdp_answer(inv, answer), "pjsip_inv_set_sdp_answer");
            }
            RunApplication(session, handler);
        }
        catch (MediaUnavailableException exception)
        {
            Log.CallRejected(session.CallId, session.Target, 503, exception.Message);
            session.End(503, null);
        }
        catch (Exception exception)
        {
            Log.SetupFailed(exception, session.CallId);
            session.End(500, null);
        }
    }

    /// <summary>The extensions' incoming-request hooks; false when one rejected the request.</summary>
    internal bool RunIncomingRequest(SipSession session, SipRequest request)
    {
        var method = request.MethodText;
        foreach (var extension in _extensions)
        {
            if (!extension.Wants(method))
                continue;
            bool accepted;
            try
            {
                accepted = extension.OnIncomingRequest(session, request);
            }
#pragma warning disable CA1031 // A failing extension rejects the request with 500, as a failing service does.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.ExtensionFailed(exception, extension.Name, method, session.CallId);
                accepted = false;
            }
            if (accepted)
                continue;
            // The extension must have answered; when it did not, 500 does.
            if (session.IsIncomingInvitePending && request.Method == SipMethod.Invite && !request.IsInDialog)
                session.End(500, null);
            else if (request.Method != SipMethod.Ack && !HasResponded(request))
                request.RespondStateful(500);
            return false;
        }
        return true;
    }

    private static bool HasResponded(SipRequest request)
    {
        var transaction = PjsipSipTransaction.pjsip_rdata_get_tsx(request.Native);
        if (transaction != null)
            return transaction->status_code >= 200;
        // A stateful answer from an extension leaves a transaction behind; find it by the request's key.
        var found = FindTransaction(request.Native, pjsip_role_e.PJSIP_ROLE_UAS, &request.Native->msg_info.cseq->method);
        return found != null && found->status_code >= 200;
    }

    /// <summary>The transaction a received message belongs to in <paramref name="role"/> for <paramref name="method"/>, if pjsip has it.</summary>
    internal static pjsip_transaction* FindTransaction(pjsip_rx_data* rdata, pjsip_role_e role, pjsip_method* method)
    {
        pj_str_t key;
        if (PjsipSipTransaction.pjsip_tsx_create_key(rdata->tp_info.pool, &key, role, method, rdata) != ThrowHelper.Success)
            return null;
        return PjsipSipTransaction.pjsip_tsx_layer_find_tsx(&key, 0);
    }

    internal void RunIncomingResponse(SipSession session, SipResponse response)
    {
        var method = response.CSeqMethod;
        foreach (var extension in _extensions)
        {
            if (!extension.Wants(method))
                continue;
            try
            {
                extension.OnIncomingResponse(session, response);
            }
#pragma warning disable CA1031 // An extension's failure is logged; the response still reaches pjsip.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.ExtensionFailed(exception, extension.Name, method, session.CallId);
            }
        }
    }

    public override void OnSending(SipOutgoingMessage message)
    {
        if (message.IsPrinted)
            return;
        var dialog = PjsipSipDialog.pjsip_tdata_get_dlg(message.Native);
        if (dialog == null)
            dialog = FindDialog(message.Native);
        if (dialog == null)
            return;
        var session = SipSession.FromHandle(dialog->mod_data[ModuleId]);
        if (session == null)
            return;
        var method = message.Method;
        foreach (var extension in _extensions)
        {
            if (!extension.Wants(method))
                continue;
            try
            {
                if (message.IsRequest)
                    extension.OnOutgoingRequest(session, message);
                else
                    extension.OnOutgoingResponse(session, message);
            }
#pragma warning disable CA1031 // An extension's failure is logged; the message still goes out.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.ExtensionFailed(exception, extension.Name, method, session.CallId);
            }
        }
    }

    private static bool Offers(SipRequest request, string option)
    {
        foreach (var value in request.GetHeaders("Supported"))
        {
            foreach (var token in value.Split(','))
            {
                if (token.Trim().Equals(option, StringComparison.OrdinalIgnoreCase))
                    return true;
            }
        }
        return false;
    }

    private static uint InviteOptions(SessionSetup setup)
    {
        uint options = 0;
        if (setup.Support100Rel)
            options |= (uint)pjsip_inv_option.PJSIP_INV_SUPPORT_100REL;
        if (setup.Require100Rel)
            options |= (uint)pjsip_inv_option.PJSIP_INV_REQUIRE_100REL;
        if (setup.SupportTimers)
            options |= (uint)pjsip_inv_option.PJSIP_INV_SUPPORT_TIMER;
        if (setup.RequireTimers)
            options |= (uint)pjsip_inv_option.PJSIP_INV_REQUIRE_TIMER;
        if (setup.AlwaysUseTimers)
            options |= (uint)pjsip_inv_option.PJSIP_INV_ALWAYS_USE_TIMER;
        return options;
    }

    private bool StartTimers(SipSession session, SessionSetup setup, pjsip_rx_data* request)
    {
        if (!setup.SupportTimers && !setup.RequireTimers && !setup.AlwaysUseTimers)
            return true;
        pjsip_timer_setting setting;
        _ = PjsipUaSipTimer.pjsip_timer_setting_default(&setting);
        setting.min_se = Math.Max(90u, setup.MinSessionExpires);
        setting.sess_expires = Math.Max(setting.min_se, setup.SessionExpires);
        ThrowHelper.ThrowIfFailed(PjsipUaSipTimer.pjsip_timer_init_session(session.Inv, &setting), "pjsip_timer_init_session");
        if (request == null)
            return true;
        pjsip_status_code code;
        if (PjsipUaSipTimer.pjsip_timer_process_req(session.Inv, request, &code) == ThrowHelper.Success)
            return true;
        // Session-Expires below our Min-SE: 422 with our Min-SE (RFC 4028 §8.1).
        // pjsip builds the 422 (with Min-SE) but returns the timer's failure with it: send what it built.
        pjsip_tx_data* tdata = null;
        _ = PjsipUaSipInv.pjsip_inv_initial_answer(session.Inv, request, (int)code, null, null, &tdata);
        if (tdata != null)
            _ = PjsipUaSipInv.pjsip_inv_send_msg(session.Inv, tdata);
        Log.CallRejected(session.CallId, session.Target, (int)code, "session timer");
        return false;
    }

    internal static string ContactFor(string address, int port, string transport)
    {
        var host = address.Contains(':', StringComparison.Ordinal) ? $"[{address}]" : address;
        var parameter = transport.StartsWith("TCP", StringComparison.OrdinalIgnoreCase) ? ";transport=tcp"
            : transport.StartsWith("TLS", StringComparison.OrdinalIgnoreCase) ? ";transport=tls" : "";
        return string.Create(CultureInfo.InvariantCulture, $"<sip:{host}:{port}{parameter}>");
    }

    /// <summary>
    /// The dialog of a message that does not name it: pjsip before 2.16 answers an INVITE finally with a
    /// copy of its provisional response, which loses the dialog reference.
    /// </summary>
    private static pjsip_dialog* FindDialog(pjsip_tx_data* tdata)
    {
        var message = tdata->msg;
        if (message == null)
            return null;
        var callId = (pjsip_cid_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(message, pjsip_hdr_e.PJSIP_H_CALL_ID, null);
        var from = (pjsip_fromto_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(message, pjsip_hdr_e.PJSIP_H_FROM, null);
        var to = (pjsip_fromto_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(message, pjsip_hdr_e.PJSIP_H_TO, null);
        if (callId == null || from == null || to == null || to->tag.slen == 0)
            return null;
        var isRequest = message->type == pjsip_msg_type_e.PJSIP_REQUEST_MSG;
        return PjsipSipUaLayer.pjsip_ua_find_dialog(&callId->id, isRequest ? &from->tag : &to->tag, isRequest ? &to->tag : &from->tag, 0);
    }

    // ---- outgoing calls ----

    private static (nint Dialog, ulong Key) CreateOutboundDialog(string from, string contact, string to, string target)
    {
        PjThread.EnsureRegistered();
        pjsip_dialog* dialog;
        using (var strings = new NativeStrings(from, contact, to, target))
        {
            ThrowHelper.ThrowIfFailed(PjsipSipDialog.pjsip_dlg_create_uac(PjsipSipUaLayer.pjsip_ua_instance(),
                strings[0], strings[1], strings[2], strings[3], &dialog), $"creating a dialog to {target}");
        }
        return ((nint)dialog, KeyOf(PjStr.AsSpan(dialog->call_id->id)));
    }

    private static void TerminateDialog(nint dialog) => _ = PjsipSipDialog.pjsip_dlg_terminate((pjsip_dialog*)dialog);

    private void StartOutbound(SipSession session, nint dialogAddress, CallOptions options, List<Auth> credentials, System.Diagnostics.ActivityContext traceParent)
    {
        var dialog = (pjsip_dialog*)dialogAddress;
        var setup = new SessionSetup(session.Endpoint, SessionDirection.Outbound);
        foreach (var extension in _extensions)
            extension.OnSessionCreating(setup);
        if (credentials.Count > 0)
        {
            var info = (pjsip_cred_info*)PjPool.pj_pool_calloc(dialog->pool, (nuint)credentials.Count, (nuint)sizeof(pjsip_cred_info));
            for (var i = 0; i < credentials.Count; i++)
            {
                info[i].realm = PjStr.FromPool(dialog->pool, credentials[i].Realm.Length > 0 ? credentials[i].Realm : "*");
                info[i].scheme = PjStr.FromPool(dialog->pool, "digest");
                info[i].username = PjStr.FromPool(dialog->pool, credentials[i].Username);
                info[i].data_type = (int)pjsip_cred_data_type.PJSIP_CRED_DATA_PLAIN_PASSWD;
                info[i].data = PjStr.FromPool(dialog->pool, credentials[i].Password);
            }
            ThrowHelper.ThrowIfFailed(PjsipSipAuth.pjsip_auth_clt_set_credentials(&dialog->auth_sess, credentials.Count, info), "setting outbound credentials");
        }
        // The dialog's pool holds the offer; the session needs the dialog before it can build one.
        pjsip_inv_session* inv;
        ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_create_uac(dialog, null, InviteOptions(setup), &inv), "pjsip_inv_create_uac");
        session.Attach(inv);
        Track(session, traceParent);
        options.Prepare?.Invoke(session);
        if (options.Sdp != null)
            session.UsePassthroughOffer(options.Sdp);
        var offer = session.BuildOffer();
        ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_set_local_sdp(inv, offer), "pjsip_inv_set_local_sdp");
        _ = StartTimers(session, setup, null);
        pjsip_tx_data* invite;
        ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_invite(inv, &invite), "pjsip_inv_invite");
        foreach (var (name, value) in options.Headers)
            Messages.StatelessResponse.AddHeader(invite, Encoding.UTF8.GetBytes(name), Encoding.UTF8.GetBytes(value));
        session.AddTraceHeaders(invite);
        ThrowHelper.ThrowIfFailed(PjsipUaSipInv.pjsip_inv_send_msg(inv, invite), "sending the INVITE");
    }

    // ---- pjsip's INVITE session callbacks ----

    private static SipSession? SessionOf(pjsip_inv_session* inv)
    {
        var id = Volatile.Read(ref s_moduleId);
        return inv == null || id < 0 ? null : SipSession.FromHandle(inv->mod_data[id]);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnStateChanged(pjsip_inv_session* inv, pjsip_event* e)
    {
        var session = SessionOf(inv);
        try
        {
            session?.OnStateChanged(inv->state);
        }
#pragma warning disable CA1031 // Nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            session?.Service.Log.CallbackFailed(exception, nameof(OnStateChanged));
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnNewSession(pjsip_inv_session* inv, pjsip_event* e)
    {
        // Forked early dialogs of an outgoing call: pjsip keeps the first; nothing to add.
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnMediaUpdate(pjsip_inv_session* inv, int status)
    {
        var session = SessionOf(inv);
        try
        {
            session?.OnMediaUpdate(status);
        }
#pragma warning disable CA1031 // Nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            session?.Service.Log.CallbackFailed(exception, nameof(OnMediaUpdate));
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnRxOffer(pjsip_inv_session* inv, pjmedia_sdp_session* offer)
    {
        // A re-INVITE or UPDATE with an offer; pjsip answers with what is set here (488 when nothing is).
        var session = SessionOf(inv);
        try
        {
            if (session == null)
                return;
            session.RemoteOfferPending = true;
            var answer = session.BuildAnswer(offer);
            if (answer != null)
                _ = PjsipUaSipInv.pjsip_inv_set_sdp_answer(inv, answer);
        }
#pragma warning disable CA1031 // Nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            session?.Service.Log.CallbackFailed(exception, nameof(OnRxOffer));
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnCreateOffer(pjsip_inv_session* inv, pjmedia_sdp_session** offer)
    {
        // A re-INVITE without an offer: ours goes in the 200.
        var session = SessionOf(inv);
        try
        {
            if (session != null)
                *offer = session.BuildOffer();
        }
#pragma warning disable CA1031 // Nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            session?.Service.Log.CallbackFailed(exception, nameof(OnCreateOffer));
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnTransactionState(pjsip_inv_session* inv, pjsip_transaction* tsx, pjsip_event* e)
    {
        var session = SessionOf(inv);
        try
        {
            session?.OnTransactionState(tsx, e);
        }
#pragma warning disable CA1031 // Nothing may unwind into pjsip.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            session?.Service.Log.CallbackFailed(exception, nameof(OnTransactionState));
        }
    }

    /// <summary>NUL-terminated native copies of strings for one native call.</summary>
    private readonly struct NativeStrings : IDisposable
    {
        private readonly pj_str_t* _values;
        private readonly int _count;

        public NativeStrings(params string[] values)
        {
            _count = values.Length;
            _values = (pj_str_t*)NativeMemory.AllocZeroed((nuint)values.Length, (nuint)sizeof(pj_str_t));
            for (var i = 0; i < values.Length; i++)
                _values[i] = PjStr.AllocNative(values[i]);
        }

        public pj_str_t* this[int index] => &_values[index];

        public void Dispose()
        {
            for (var i = 0; i < _count; i++)
                PjStr.FreeNative(ref _values[i]);
            NativeMemory.Free(_values);
        }
    }
}
