using System.Text;
using PjSharp.Interop;
using PjSharp.Messages;

namespace PjSharp;

/// <summary>An incoming response, valid only during the callback that received it.</summary>
public readonly unsafe ref struct SipResponse
{
    private readonly pjsip_rx_data* _rdata;

    internal SipResponse(pjsip_rx_data* rdata) => _rdata = rdata;

    internal pjsip_rx_data* Native => _rdata;

    private pjsip_msg* Message => _rdata->msg_info.msg;

    public int StatusCode => Message->line.status.code;

    public string Reason => PjStr.ToManagedString(Message->line.status.reason);

    public string CallId => _rdata->msg_info.cid == null ? "" : Encoding.UTF8.GetString(PjStr.AsSpan(_rdata->msg_info.cid->id));

    public int CSeq => _rdata->msg_info.cseq == null ? 0 : _rdata->msg_info.cseq->cseq;

    /// <summary>The method of the request answered, as the bytes in CSeq (no copy).</summary>
    internal ReadOnlySpan<byte> CSeqMethodName => _rdata->msg_info.cseq == null ? default : PjStr.AsSpan(_rdata->msg_info.cseq->method.name);

    public string CSeqMethod => _rdata->msg_info.cseq == null ? "" : PjStr.ToManagedString(_rdata->msg_info.cseq->method.name);

    public string? GetHeader(string name) => MessageReader.PrintHeaderValue(MessageReader.FindHeader(Message, name));

    public ReadOnlySpan<byte> Body => MessageReader.Body(Message);

    public ReadOnlySpan<byte> FromUser => _rdata->msg_info.from == null ? default : MessageReader.UriUser(_rdata->msg_info.from->uri);

    public ReadOnlySpan<byte> ToUser => _rdata->msg_info.to == null ? default : MessageReader.UriUser(_rdata->msg_info.to->uri);

    /// <summary>The raw bytes of the whole message as received.</summary>
    public ReadOnlySpan<byte> RawMessage => _rdata->msg_info.msg_buf == null ? default
        : new ReadOnlySpan<byte>(_rdata->msg_info.msg_buf, _rdata->msg_info.len);

    public PjSharp.Interception.SourceAddress SourceAddress => PjSharp.Interception.SourceAddress.FromPacket(_rdata);

    public int SourcePort => _rdata->pkt_info.src_port;

    public (PjSharp.Interception.SourceAddress Address, int Port) LocalAddress => MessageReader.LocalAddress(_rdata->tp_info.transport);

    public string Transport => MessageReader.TransportName(_rdata);
}
