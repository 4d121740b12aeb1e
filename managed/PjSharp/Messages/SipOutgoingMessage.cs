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

    internal pjsip_tx_data* Native => _tdata;

    /// <summary>The request method (a request), or the method of the request answered (a response).</summary>
    public string Method
    {
        get
        {
            if (_tdata->msg == null)
                return "";
            if (_tdata->msg->type == pjsip_msg_type_e.PJSIP_REQUEST_MSG)
                return PjStr.ToManagedString(_tdata->msg->line.req.method.name);
            var cseq = (pjsip_cseq_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(_tdata->msg, pjsip_hdr_e.PJSIP_H_CSEQ, null);
            return cseq == null ? "" : PjStr.ToManagedString(cseq->method.name);
        }
    }

    /// <summary><see cref="Method"/> as the bytes in the message (no copy).</summary>
    internal ReadOnlySpan<byte> MethodName
    {
        get
        {
            if (_tdata->msg == null)
                return default;
            if (_tdata->msg->type == pjsip_msg_type_e.PJSIP_REQUEST_MSG)
                return PjStr.AsSpan(_tdata->msg->line.req.method.name);
            var cseq = (pjsip_cseq_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(_tdata->msg, pjsip_hdr_e.PJSIP_H_CSEQ, null);
            return cseq == null ? default : PjStr.AsSpan(cseq->method.name);
        }
    }

    /// <summary>The status code of a response; 0 for a request.</summary>
    public int StatusCode => _tdata->msg == null || _tdata->msg->type != pjsip_msg_type_e.PJSIP_RESPONSE_MSG ? 0 : _tdata->msg->line.status.code;

    /// <summary>Whether pjsip has printed the message already (a retransmission): headers added now would not be sent.</summary>
    public bool IsPrinted => _tdata->buf.start != null && _tdata->buf.cur > _tdata->buf.start;

    /// <summary>The first header named <paramref name="name"/>, printed without its name; null when absent.</summary>
    public string? GetHeader(string name) => _tdata->msg == null ? null : MessageReader.PrintHeaderValue(MessageReader.FindHeader(_tdata->msg, name));

    /// <summary>Adds <c>name: value</c>; call it before the message is printed (extensions' outgoing hooks are).</summary>
    public void AddHeader(string name, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        if (IsPrinted)
            throw new InvalidOperationException("The message is already printed; headers can no longer be added.");
        StatelessResponse.AddHeader(_tdata, System.Text.Encoding.UTF8.GetBytes(name), System.Text.Encoding.UTF8.GetBytes(value));
    }

    /// <summary>Removes every header named <paramref name="name"/>; true when one was there.</summary>
    public bool RemoveHeader(string name)
    {
        if (_tdata->msg == null)
            return false;
        var removed = false;
        for (var header = MessageReader.FindHeader(_tdata->msg, name); header != null; header = MessageReader.FindHeader(_tdata->msg, name))
        {
            header->prev->next = header->next;
            header->next->prev = header->prev;
            removed = true;
        }
        return removed;
    }
}
