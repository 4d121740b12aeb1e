using PjSharp.Interception;
using PjSharp.Interop;
using PjSharp.Messages;

namespace PjSharp;

/// <summary>
/// A request or response about to be sent, as printed on the wire: valid only during the
/// callback that received it.
/// </summary>
public readonly unsafe ref struct SipOutgoingMessage
{
    private readonly pjsip_tx_data* _tdata;

    internal SipOutgoingMessage(pjsip_tx_data* tdata) => _tdata = tdata;

    public bool IsRequest => _tdata->msg != null && _tdata->msg->type == pjsip_msg_type_e.PJSIP_REQUEST_MSG;

    /// <summary>The bytes that go on the wire (empty before pjsip printed them).</summary>
    public ReadOnlySpan<byte> Bytes => _tdata->buf.start == null || _tdata->buf.cur <= _tdata->buf.start
        ? default
        : new ReadOnlySpan<byte>(_tdata->buf.start, (int)(_tdata->buf.cur - _tdata->buf.start));

    public SourceAddress DestinationAddress => SourceAddress.FromSocketAddress(&_tdata->tp_info.dst_addr, _tdata->tp_info.dst_addr_len);

    public int DestinationPort => _tdata->tp_info.dst_port;

    /// <summary>pjsip's transport name: UDP, TCP, TLS, UDP6, ...</summary>
    public string Transport => _tdata->tp_info.transport == null ? "" : Marshalling.Utf8(_tdata->tp_info.transport->type_name);

    /// <summary>The local address the message leaves from.</summary>
    internal (SourceAddress Address, int Port) Local => MessageReader.LocalAddress(_tdata->tp_info.transport);

    public ReadOnlySpan<byte> FromUser
    {
        get
        {
            var from = _tdata->msg == null ? null : (pjsip_fromto_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(_tdata->msg, pjsip_hdr_e.PJSIP_H_FROM, null);
            return from == null ? default : MessageReader.UriUser(from->uri);
        }
    }

    public ReadOnlySpan<byte> ToUser
    {
        get
        {
            var to = _tdata->msg == null ? null : (pjsip_fromto_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(_tdata->msg, pjsip_hdr_e.PJSIP_H_TO, null);
            return to == null ? default : MessageReader.UriUser(to->uri);
        }
    }
}
