using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using PjSharp.Diagnostics;
using PjSharp.Interop;
using PjSharp.Messages;
using PjSharp.Services;

namespace PjSharp.Interception;

/// <summary>
/// Answers requests that are malformed the way RFC 3261 asks (§8.2.2, §18.3): pjsip drops
/// what it cannot parse without a word, leaving a UDP client to retransmit for 32 s. Two
/// hooks: pjsip's dropped-data callback (syntax errors, missing mandatory headers, overflow),
/// answered statelessly from the raw bytes; and a service before the transaction layer for
/// requests pjsip parsed but should not accept (Content-Length, URI scheme, Require, size).
/// </summary>
internal sealed unsafe class MalformedRequestResponder
{
    private static MalformedRequestResponder? s_current;

    private readonly SipEndpoint _endpoint;
    private readonly ILogger _logger;

    public MalformedRequestResponder(SipEndpoint endpoint, ILogger logger)
    {
        _endpoint = endpoint;
        _logger = logger;
        Service = new SanityService(this);
        s_current = this;
        _ = PjsipSipTransport.pjsip_tpmgr_set_drop_data_cb(PjsipSipEndpoint.pjsip_endpt_get_tpmgr(endpoint.Native), &OnDropped);
    }

    public SipService Service { get; }

    public void Detach()
    {
        _ = PjsipSipTransport.pjsip_tpmgr_set_drop_data_cb(PjsipSipEndpoint.pjsip_endpt_get_tpmgr(_endpoint.Native), null);
        Interlocked.CompareExchange(ref s_current, null, this);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnDropped(pjsip_tp_dropped_data* dropped)
    {
        var responder = s_current;
        if (responder == null || dropped->status == PjConstants.PJ_EIGNORED || dropped->tp == null || dropped->data == null)
            return;
        try
        {
            responder.AnswerDropped(dropped);
        }
#pragma warning disable CA1031 // Nothing may unwind into pjsip's transport.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            responder._logger.MalformedHandlerFailed(exception);
        }
    }

    private void AnswerDropped(pjsip_tp_dropped_data* dropped)
    {
        var raw = new ReadOnlySpan<byte>(dropped->data, checked((int)Math.Min(dropped->len, (nuint)int.MaxValue)));
        var transport = dropped->tp;
        var isDatagram = (transport->flag & (uint)pjsip_transport_flags_e.PJSIP_TRANSPORT_DATAGRAM) != 0;
        pj_sockaddr* destination;
        int destinationLength;
        string source;
        if (isDatagram)
        {
            var rdata = PjSharpNative.pjsharp_rdata_from_dropped(dropped);
            if (rdata == null)
                return;
            destination = &rdata->pkt_info.src_addr;
            destinationLength = rdata->pkt_info.src_addr_len;
            source = Messages.MessageReader.SourceEndPoint(rdata)?.ToString() ?? "?";
        }
        else
        {
            destination = &transport->key.rem_addr;
            destinationLength = transport->addr_len;
            source = Marshalling.Utf8(transport->obj_name);
        }

        var status = dropped->status;
        var request = RawRequest.Parse(raw);
        int code;
        string reason;
        if (status == PjConstants.PJSIP_ERXOVERFLOW)
            (code, reason) = (513, "Message Too Large");
        else if (status == PjConstants.PJSIP_EMISSINGHDR)
            (code, reason) = (400, "Missing Mandatory Header");
        else if (status == PjConstants.PJSIP_EINVALIDMSG || status == PjConstants.PJSIP_EINVALIDHDR)
            (code, reason) = request.Diagnose();
        else
            return;

        if (!request.IsRequest || request.IsAck || request.Via.Count == 0)
        {
            // RFC 3261 §8.2.6 / §18.2.2: no response without a Via to send it by; never to an ACK or a response.
            _logger.MalformedDropped(source, reason);
            return;
        }
        var response = request.BuildResponse(code, reason);
        var selector = default(pjsip_tpselector);
        selector.type = pjsip_tpselector_type.PJSIP_TPSELECTOR_TRANSPORT;
        selector.u.transport = transport;
        fixed (byte* bytes = response)
        {
            _ = PjsipSipTransport.pjsip_tpmgr_send_raw(PjsipSipEndpoint.pjsip_endpt_get_tpmgr(_endpoint.Native),
                (pjsip_transport_type_e)transport->key.type, &selector, null, bytes, (nuint)response.Length,
                destination, destinationLength, null, null);
        }
        _logger.MalformedAnswered(source, code, reason);
    }

    /// <summary>Checks on requests pjsip parsed, before any transaction exists.</summary>
    private sealed class SanityService(MalformedRequestResponder owner)
        : SipService("pjsharp-malformed-requests", SipServicePriority.Interception - 1)
    {
        public override bool OnRequest(SipRequest request)
        {
            var rdata = request.Native;
            var message = rdata->msg_info.msg;
            var isAck = message->line.req.method.id == pjsip_method_e.PJSIP_ACK_METHOD;
            var isDatagram = rdata->tp_info.transport != null
                && (rdata->tp_info.transport->flag & (uint)pjsip_transport_flags_e.PJSIP_TRANSPORT_DATAGRAM) != 0;

            if (isDatagram && rdata->pkt_info.len >= PjConstants.PJSIP_MAX_PKT_LEN - 1)
                return Reject(request, isAck, 513, "Message Too Large");
            if (ContentLengthProblem(rdata, isDatagram) is { } problem)
                return Reject(request, isAck, 400, problem);
            if (RepeatedSingleHeader(message) is { } repeated)
                return Reject(request, isAck, 400, repeated);
            if (!IsKnownScheme(UriScheme(message->line.req.uri)))
                return Reject(request, isAck, 416, "Unsupported URI Scheme");
            if (!isAck && message->line.req.method.id != pjsip_method_e.PJSIP_CANCEL_METHOD
                && UnsupportedRequirements(owner._endpoint, rdata) is { Length: > 0 } unsupported)
            {
                RespondWithHeader(owner._endpoint, rdata, 420, "Bad Extension", "Unsupported", unsupported);
                owner._logger.MalformedAnswered(request.Source?.ToString() ?? "?", 420, "Bad Extension: " + unsupported);
                return true;
            }
            return false;
        }

        private bool Reject(SipRequest request, bool isAck, int code, string reason)
        {
            if (!isAck)
                request.RespondStateless(code, reason);
            owner._logger.MalformedAnswered(request.Source?.ToString() ?? "?", isAck ? 0 : code, reason);
            return true;
        }

        private static string? ContentLengthProblem(pjsip_rx_data* rdata, bool isDatagram)
        {
            var message = rdata->msg_info.msg;
            var first = (pjsip_clen_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(message, pjsip_hdr_e.PJSIP_H_CONTENT_LENGTH, null);
            if (first == null)
                return null;
            var second = (pjsip_clen_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(message, pjsip_hdr_e.PJSIP_H_CONTENT_LENGTH, first->next);
            if (second != null)
                return "Duplicate Content-Length";
            if (!isDatagram || rdata->msg_info.msg_buf == null)
                return null;
            // RFC 3261 §18.3: a datagram whose Content-Length exceeds the bytes received is answered 400.
            var packet = new ReadOnlySpan<byte>(rdata->msg_info.msg_buf, rdata->msg_info.len);
            var headerEnd = packet.IndexOf("\r\n\r\n"u8);
            var bodyLength = headerEnd < 0 ? 0 : packet.Length - headerEnd - 4;
            return first->len > bodyLength ? "Content-Length Larger Than Body" : null;
        }

        // RFC 3261 §7.3.1: these appear once; a second one leaves the request ambiguous.
        private static readonly (pjsip_hdr_e Type, string Problem)[] SingleHeaders =
        [
            (pjsip_hdr_e.PJSIP_H_FROM, "Duplicate From"),
            (pjsip_hdr_e.PJSIP_H_TO, "Duplicate To"),
            (pjsip_hdr_e.PJSIP_H_CALL_ID, "Duplicate Call-ID"),
            (pjsip_hdr_e.PJSIP_H_CSEQ, "Duplicate CSeq"),
            (pjsip_hdr_e.PJSIP_H_MAX_FORWARDS, "Duplicate Max-Forwards"),
            (pjsip_hdr_e.PJSIP_H_CONTENT_TYPE, "Duplicate Content-Type"),
            (pjsip_hdr_e.PJSIP_H_EXPIRES, "Duplicate Expires"),
        ];

        private static string? RepeatedSingleHeader(pjsip_msg* message)
        {
            foreach (var (type, problem) in SingleHeaders)
            {
                var first = (pjsip_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(message, type, null);
                if (first != null && PjsipSipMsg.pjsip_msg_find_hdr(message, type, first->next) != null)
                    return problem;
            }
            return null;
        }

        private static ReadOnlySpan<byte> UriScheme(pjsip_uri* uri)
        {
            if (uri == null || uri->vptr == null)
                return default;
            var scheme = uri->vptr->p_get_scheme(uri);
            return scheme == null ? default : PjStr.AsSpan(*scheme);
        }

        // Compared as bytes: this runs for every request and must not allocate.
        private static bool IsKnownScheme(ReadOnlySpan<byte> scheme)
        {
            foreach (var known in RawRequest.UriSchemes)
            {
                if (Ascii.EqualsIgnoreCase(scheme, known))
                    return true;
            }
            return false;
        }

        private static string UnsupportedRequirements(SipEndpoint endpoint, pjsip_rx_data* rdata)
        {
            var require = rdata->msg_info.require;
            if (require == null)
                return "";
            var supported = (pjsip_generic_array_hdr*)PjsipSipEndpoint.pjsip_endpt_get_capability(endpoint.Native, (int)pjsip_hdr_e.PJSIP_H_SUPPORTED, null);
            StringBuilder? unsupported = null;
            for (var header = (pjsip_hdr*)require; header != null;
                 header = (pjsip_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(rdata->msg_info.msg, pjsip_hdr_e.PJSIP_H_REQUIRE, header->next))
            {
                var array = (pjsip_generic_array_hdr*)header;
                for (var i = 0; i < array->count; i++)
                {
                    var tag = array->values[i];
                    if (!IsSupported(supported, tag))
                    {
                        unsupported ??= new StringBuilder();
                        if (unsupported.Length > 0)
                            unsupported.Append(", ");
                        unsupported.Append(PjStr.ToManagedString(tag));
                    }
                }
            }
            return unsupported?.ToString() ?? "";
        }

        private static bool IsSupported(pjsip_generic_array_hdr* supported, pj_str_t tag)
        {
            if (supported == null)
                return false;
            for (var i = 0; i < supported->count; i++)
            {
                if (Ascii.EqualsIgnoreCase(PjStr.AsSpan(supported->values[i]), PjStr.AsSpan(tag)))
                    return true;
            }
            return false;
        }

        private static void RespondWithHeader(SipEndpoint endpoint, pjsip_rx_data* rdata, int code, string reason, string name, string value)
        {
            var pool = PjsipSipEndpoint.pjsip_endpt_create_pool(endpoint.Native, null, 512, 512);
            try
            {
                var nameText = PjStr.AllocNative(name);
                var valueText = PjStr.AllocNative(value);
                var reasonText = PjStr.AllocNative(reason);
                try
                {
                    var header = (pjsip_hdr*)PjsipSipMsg.pjsip_generic_string_hdr_create(pool, &nameText, &valueText);
                    pjsip_hdr list = default;
                    list.next = header;
                    list.prev = header;
                    header->next = &list;
                    header->prev = &list;
                    _ = PjsipSipUtil.pjsip_endpt_respond_stateless(endpoint.Native, rdata, code, &reasonText, &list, null);
                }
                finally
                {
                    PjStr.FreeNative(ref nameText);
                    PjStr.FreeNative(ref valueText);
                    PjStr.FreeNative(ref reasonText);
                }
            }
            finally
            {
                PjPool.pj_pool_release(pool);
            }
        }
    }
}
