using PjSharp.Interop;
using PjSharp.Servants;
using PjSharp.Services;

namespace PjSharp.Sessions;

/// <summary>
/// Sends each message of a call to the call's servant before pjsip's transaction layer sees it,
/// and resumes pjsip's processing there (as Asterisk's distributor does): new INVITEs, CANCELs,
/// and whatever carries the Call-ID of a session in progress. Runs on pjsip's thread, right after
/// interception; the clone keeps interception's verdict.
/// </summary>
internal sealed unsafe class SessionDistributor(SessionService sessions)
    : SipService("pjsharp-session-distributor", SipServicePriority.TransactionLayer - 1)
{
    private static readonly KeyValuePair<string, string>[] RetryAfter = [new("Retry-After", "2")];

    protected internal override bool HandlesResponses => true;

    public override bool OnRequest(SipRequest request)
    {
        var key = SessionService.KeyOf(request.CallIdBytes);
        var method = request.Method;
        if (!(method is SipMethod.Invite or SipMethod.Cancel) && !sessions.IsKnown(key))
            return false;
        if (Distribute(request.Native, key))
            return true;
        sessions.Log.ServantFull(request.CallId);
        if (method != SipMethod.Ack)
            request.RespondStateless(503, RetryAfter);
        return true;
    }

    public override bool OnResponse(SipResponse response)
    {
        var rdata = response.Native;
        if (rdata->msg_info.cid == null)
            return false;
        var key = SessionService.KeyOf(PjStr.AsSpan(rdata->msg_info.cid->id));
        if (!sessions.IsKnown(key))
            return false;
        // A response that cannot be queued is dropped; the peer retransmits it.
        _ = Distribute(rdata, key);
        return true;
    }

    private bool Distribute(pjsip_rx_data* rdata, ulong key)
    {
        // An ACK runs no extension or application code: when the call's servant is idle it is
        // processed right here, as the servant, without a copy or a thread hop.
        if (IsAck(rdata) && sessions.Servants.TryRunInline(key, new DistributedMessage(this, sessions, rdata, key, owned: false)))
            return true;
        pjsip_rx_data* clone;
        if (PjsipSipTransport.pjsip_rx_data_clone(rdata, 0, &clone) != ThrowHelper.Success)
            return false;
        // Modules before this one (interception's verdict) keep what they noted.
        for (var i = 0; i < ModuleId; i++)
            clone->endpt_info.mod_data[i] = rdata->endpt_info.mod_data[i];
        if (sessions.Servants.TryEnqueue(key, new DistributedMessage(this, sessions, clone, key, owned: true)))
            return true;
        _ = PjsipSipTransport.pjsip_rx_data_free_cloned(clone);
        return false;
    }

    private static bool IsAck(pjsip_rx_data* rdata) =>
        rdata->msg_info.msg->type == pjsip_msg_type_e.PJSIP_REQUEST_MSG && rdata->msg_info.msg->line.req.method.id == pjsip_method_e.PJSIP_ACK_METHOD;

    private sealed class DistributedMessage(SessionDistributor distributor, SessionService sessions, pjsip_rx_data* rdata, ulong key, bool owned) : ServantWork
    {
        public override ValueTask RunAsync(CancellationToken cancellationToken)
        {
            var previous = SessionService.CurrentKey;
            SessionService.CurrentKey = key;
            try
            {
                PjThread.EnsureRegistered();
                Process();
            }
#pragma warning disable CA1031 // A failure costs this message, not the servant.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                sessions.Log.CallbackFailed(exception, "distributed message");
            }
            finally
            {
                SessionService.CurrentKey = previous;
                if (owned)
                    _ = PjsipSipTransport.pjsip_rx_data_free_cloned(rdata);
            }
            return ValueTask.CompletedTask;
        }

        private void Process()
        {
            var endpoint = sessions.Endpoint;
            if (endpoint.IsDestroyed)
                return;
            var isRequest = rdata->msg_info.msg->type == pjsip_msg_type_e.PJSIP_REQUEST_MSG;
            var session = FindSession(isRequest);
            if (session != null)
            {
                if (isRequest)
                {
                    var request = new SipRequest(endpoint, rdata, distributor.NativeModule);
                    if (request.Method != SipMethod.Ack && !sessions.RunIncomingRequest(session, request))
                        return;
                }
                else
                {
                    sessions.RunIncomingResponse(session, new SipResponse(rdata));
                }
            }
            pjsip_process_rdata_param param;
            PjsipSipEndpoint.pjsip_process_rdata_param_default(&param);
            param.start_mod = distributor.NativeModule;
            param.idx_after_start = 1;
            int handled;
            _ = PjsipSipEndpoint.pjsip_endpt_process_rx_data(endpoint.Native, rdata, &param, &handled);
            if (handled == 0 && isRequest && rdata->msg_info.msg->line.req.method.id != pjsip_method_e.PJSIP_ACK_METHOD)
                new SipRequest(endpoint, rdata, distributor.NativeModule).RespondStateless(501);
        }

        /// <summary>
        /// The session of the transaction this message belongs to: a CANCEL has no To tag (its
        /// transaction is the INVITE it cancels), and the first responses of an outgoing call carry a
        /// To tag that the dialog does not know yet.
        /// </summary>
        private SipSession? FindByTransaction(pjsip_role_e role, pjsip_method* method)
        {
            var transaction = SessionService.FindTransaction(rdata, role, method);
            var dialog = transaction == null ? null : PjsipSipDialog.pjsip_tsx_get_dlg(transaction);
            return dialog == null ? null : SipSession.FromHandle(dialog->mod_data[sessions.ModuleIdForSessions]);
        }

        /// <summary>The session whose dialog this in-dialog message belongs to, if any.</summary>
        private SipSession? FindSession(bool isRequest)
        {
            var info = &rdata->msg_info;
            if (info->cid == null || info->from == null || info->to == null)
                return null;
            if (isRequest && info->msg->line.req.method.id == pjsip_method_e.PJSIP_CANCEL_METHOD)
            {
                pjsip_method invite;
                PjsipSipMsg.pjsip_method_set(&invite, pjsip_method_e.PJSIP_INVITE_METHOD);
                return FindByTransaction(pjsip_role_e.PJSIP_ROLE_UAS, &invite);
            }
            if (!isRequest && info->cseq != null && FindByTransaction(pjsip_role_e.PJSIP_ROLE_UAC, &info->cseq->method) is { } session)
                return session;
            if (info->to->tag.slen == 0)
                return null;
            var local = isRequest ? &info->to->tag : &info->from->tag;
            var remote = isRequest ? &info->from->tag : &info->to->tag;
            var dialog = PjsipSipUaLayer.pjsip_ua_find_dialog(&info->cid->id, local, remote, 0);
            return dialog == null ? null : SipSession.FromHandle(dialog->mod_data[sessions.ModuleIdForSessions]);
        }
    }
}
