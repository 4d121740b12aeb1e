using System.Net;
using System.Text;
using PjSharp.Interop;
using PjSharp.Messages;

namespace PjSharp;

/// <summary>
/// An incoming request, valid only during the callback that received it (it cannot be
/// stored or captured). Keep it past the callback with <see cref="Clone"/>.
/// </summary>
public readonly unsafe ref struct SipRequest
{
    private readonly SipEndpoint _endpoint;
    private readonly pjsip_rx_data* _rdata;
    private readonly pjsip_module* _module;

    internal SipRequest(SipEndpoint endpoint, pjsip_rx_data* rdata, pjsip_module* module)
    {
        _endpoint = endpoint;
        _rdata = rdata;
        _module = module;
    }

    internal pjsip_rx_data* Native => _rdata;

    private pjsip_msg* Message => _rdata->msg_info.msg;

    public SipMethod Method => (SipMethod)Math.Min((int)Message->line.req.method.id, (int)SipMethod.Other);

    /// <summary>The method as sent, e.g. <c>OPTIONS</c> or <c>SUBSCRIBE</c>.</summary>
    public ReadOnlySpan<byte> MethodName => PjStr.AsSpan(Message->line.req.method.name);

    public string MethodText => PjStr.ToManagedString(Message->line.req.method.name);

    public string RequestUri => MessageReader.PrintUri(pjsip_uri_context_e.PJSIP_URI_IN_REQ_URI, Message->line.req.uri);

    public ReadOnlySpan<byte> CallIdBytes => _rdata->msg_info.cid == null ? default : PjStr.AsSpan(_rdata->msg_info.cid->id);

    public string CallId => Encoding.UTF8.GetString(CallIdBytes);

    public int CSeq => _rdata->msg_info.cseq == null ? 0 : _rdata->msg_info.cseq->cseq;

    public string FromUri => _rdata->msg_info.from == null ? "" : MessageReader.PrintUri(pjsip_uri_context_e.PJSIP_URI_IN_FROMTO_HDR, _rdata->msg_info.from->uri);

    public string FromTag => _rdata->msg_info.from == null ? "" : PjStr.ToManagedString(_rdata->msg_info.from->tag);

    public string ToUri => _rdata->msg_info.to == null ? "" : MessageReader.PrintUri(pjsip_uri_context_e.PJSIP_URI_IN_FROMTO_HDR, _rdata->msg_info.to->uri);

    /// <summary>The user part of the From URI (sip:/sips: only), as sent.</summary>
    public ReadOnlySpan<byte> FromUser => _rdata->msg_info.from == null ? default : MessageReader.UriUser(_rdata->msg_info.from->uri);

    /// <summary>The user part of the To URI (sip:/sips: only), as sent.</summary>
    public ReadOnlySpan<byte> ToUser => _rdata->msg_info.to == null ? default : MessageReader.UriUser(_rdata->msg_info.to->uri);

    /// <summary>The user part of the request URI (sip:/sips: only), as sent.</summary>
    public ReadOnlySpan<byte> RequestUriUser => MessageReader.UriUser(Message->line.req.uri);

    /// <summary>The first Authorization header with the Digest scheme, as pjsip parsed it; null if none.</summary>
    internal pjsip_authorization_hdr* DigestAuthorization
    {
        get
        {
            var header = (pjsip_authorization_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(Message, pjsip_hdr_e.PJSIP_H_AUTHORIZATION, null);
            while (header != null)
            {
                if (System.Text.Ascii.EqualsIgnoreCase(PjStr.AsSpan(header->scheme), "digest"u8))
                    return header;
                header = (pjsip_authorization_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(Message, pjsip_hdr_e.PJSIP_H_AUTHORIZATION, header->next);
            }
            return null;
        }
    }

    /// <summary>The username of the Digest Authorization header, empty if none.</summary>
    public ReadOnlySpan<byte> AuthorizationUsername
    {
        get
        {
            var header = DigestAuthorization;
            return header == null ? default : PjStr.AsSpan(header->credential.digest.username);
        }
    }

    /// <summary>The raw bytes of the whole message as received.</summary>
    public ReadOnlySpan<byte> RawMessage => _rdata->msg_info.msg_buf == null ? default
        : new ReadOnlySpan<byte>(_rdata->msg_info.msg_buf, _rdata->msg_info.len);

    public string ToTag => _rdata->msg_info.to == null ? "" : PjStr.ToManagedString(_rdata->msg_info.to->tag);

    /// <summary>The top Via's branch parameter.</summary>
    public string ViaBranch => _rdata->msg_info.via == null ? "" : PjStr.ToManagedString(_rdata->msg_info.via->branch_param);

    /// <summary>The top Via's branch parameter, as sent.</summary>
    public ReadOnlySpan<byte> ViaBranchBytes => _rdata->msg_info.via == null ? default : PjStr.AsSpan(_rdata->msg_info.via->branch_param);

    /// <summary>The top Via's sent-by host and port.</summary>
    public string ViaSentBy => _rdata->msg_info.via == null ? ""
        : $"{PjStr.ToManagedString(_rdata->msg_info.via->sent_by.host)}:{_rdata->msg_info.via->sent_by.port}";

    public int? MaxForwards => _rdata->msg_info.max_fwd == null ? null : (int)_rdata->msg_info.max_fwd->ivalue;

    /// <summary>The Expires header's value, if present.</summary>
    public int? Expires
    {
        get
        {
            var header = (pjsip_generic_int_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(Message, pjsip_hdr_e.PJSIP_H_EXPIRES, null);
            return header == null ? null : (int)header->ivalue;
        }
    }

    /// <summary>Every Contact header value, as printed.</summary>
    public IReadOnlyList<string> Contacts => MessageReader.HeaderValues(Message, "Contact");

    /// <summary>The first header of that name (full or compact form), as printed; null if absent.</summary>
    public string? GetHeader(string name) => MessageReader.PrintHeaderValue(MessageReader.FindHeader(Message, name));

    public IReadOnlyList<string> GetHeaders(string name) => MessageReader.HeaderValues(Message, name);

    public ReadOnlySpan<byte> Body => MessageReader.Body(Message);

    public string? ContentType => MessageReader.ContentType(Message);

    /// <summary>Where the request came from (the packet's source address).</summary>
    public IPEndPoint? Source => MessageReader.SourceEndPoint(_rdata);

    /// <summary>pjsip's transport name: UDP, TCP, TLS, UDP6, ...</summary>
    public string Transport => MessageReader.TransportName(_rdata);

    /// <summary>The packet's source address, without allocating.</summary>
    public PjSharp.Interception.SourceAddress SourceAddress => PjSharp.Interception.SourceAddress.FromPacket(_rdata);

    public int SourcePort => _rdata->pkt_info.src_port;

    /// <summary>The local address and port the request arrived on.</summary>
    public (PjSharp.Interception.SourceAddress Address, int Port) LocalAddress => MessageReader.LocalAddress(_rdata->tp_info.transport);

    /// <summary>Whether this request is inside a dialog (its To carries a tag).</summary>
    public bool IsInDialog => _rdata->msg_info.to != null && _rdata->msg_info.to->tag.slen > 0;

    /// <summary>Answers without a transaction (retransmissions get answered again the same way).</summary>
    public void RespondStateless(int statusCode, string? reason = null)
    {
        PjThread.EnsureRegistered();
        var reasonBytes = reason == null ? null : Encoding.UTF8.GetBytes(reason);
        fixed (byte* reasonPointer = reasonBytes)
        {
            var text = PjStr.FromPointer(reasonPointer, reasonBytes?.Length ?? 0);
            ThrowHelper.ThrowIfFailed(
                PjsipSipUtil.pjsip_endpt_respond_stateless(_endpoint.Native, _rdata, statusCode, reasonBytes == null ? null : &text, null, null),
                "pjsip_endpt_respond_stateless");
        }
    }

    /// <summary>Answers without a transaction, with extra headers (a name may repeat).</summary>
    public void RespondStateless(int statusCode, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        PjThread.EnsureRegistered();
        StatelessResponse.Respond(_endpoint, _rdata, statusCode, headers);
    }

    /// <summary>Answers without a transaction, with a prepared header list copied into the response.</summary>
    internal void RespondStateless(int statusCode, pjsip_hdr* headers)
    {
        PjThread.EnsureRegistered();
        ThrowHelper.ThrowIfFailed(
            PjsipSipUtil.pjsip_endpt_respond_stateless(_endpoint.Native, _rdata, statusCode, null, headers, null),
            "pjsip_endpt_respond_stateless");
    }

    /// <summary>Answers through a new server transaction, which absorbs retransmissions.</summary>
    public void RespondStateful(int statusCode, string? reason = null) => RespondStateful(statusCode, reason, null);

    internal void RespondStateful(int statusCode, string? reason, pjsip_hdr* headers)
    {
        PjThread.EnsureRegistered();
        var reasonBytes = reason == null ? null : Encoding.UTF8.GetBytes(reason);
        fixed (byte* reasonPointer = reasonBytes)
        {
            var text = PjStr.FromPointer(reasonPointer, reasonBytes?.Length ?? 0);
            ThrowHelper.ThrowIfFailed(
                PjsipSipUtil.pjsip_endpt_respond(_endpoint.Native, _module, _rdata, statusCode, reasonBytes == null ? null : &text, headers, null, null),
                "pjsip_endpt_respond");
        }
    }

    /// <summary>A copy that outlives the callback; dispose it when done.</summary>
    public SipRequestClone Clone()
    {
        pjsip_rx_data* clone;
        ThrowHelper.ThrowIfFailed(PjsipSipTransport.pjsip_rx_data_clone(_rdata, 0, &clone), "pjsip_rx_data_clone");
        return new SipRequestClone(_endpoint, new ClonedRxDataHandle((nint)clone));
    }

    /// <summary>The exception firewall's answer: 500, statelessly, unless the request was an ACK.</summary>
    internal static void AnswerAfterFailure(SipEndpoint endpoint, pjsip_rx_data* rdata)
    {
        try
        {
            if (rdata->msg_info.msg == null || rdata->msg_info.msg->line.req.method.id == pjsip_method_e.PJSIP_ACK_METHOD)
                return;
            _ = PjsipSipUtil.pjsip_endpt_respond_stateless(endpoint.Native, rdata, 500, null, null, null);
        }
#pragma warning disable CA1031 // Already failing: nothing more may unwind into pjsip.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}

/// <summary>A request kept past its callback: owns a pjsip clone of the received data.</summary>
public sealed unsafe class SipRequestClone : IDisposable
{
    private readonly SipEndpoint _endpoint;
    private readonly ClonedRxDataHandle _handle;

    internal SipRequestClone(SipEndpoint endpoint, ClonedRxDataHandle handle)
    {
        _endpoint = endpoint;
        _handle = handle;
    }

    /// <summary>Reads the clone as a request view; the view is valid until this object is disposed.</summary>
    public T Read<T>(SipRequestReader<T> reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            PjThread.EnsureRegistered();
            return reader(new SipRequest(_endpoint, (pjsip_rx_data*)_handle.DangerousGetHandle(), null));
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Answers without a transaction, from any thread: the answer a servant sends when its work is
    /// done. Headers are added in order (a name may repeat, e.g. Contact).
    /// </summary>
    public void RespondStateless(int statusCode, IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            PjThread.EnsureRegistered();
            StatelessResponse.Respond(_endpoint, (pjsip_rx_data*)_handle.DangerousGetHandle(), statusCode, headers);
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>The clone's pjsip data, for code in this assembly that holds a reference while using it.</summary>
    internal ClonedRxDataHandle Handle => _handle;

    internal SipEndpoint Endpoint => _endpoint;

    public void Dispose() => _handle.Dispose();
}

public delegate T SipRequestReader<out T>(SipRequest request);
