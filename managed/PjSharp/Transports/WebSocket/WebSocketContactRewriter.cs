using PjSharp.Interop;
using PjSharp.Messages;
using PjSharp.Services;

namespace PjSharp.Transports.WebSocket;

/// <summary>
/// A browser names itself with a <c>.invalid</c> host (RFC 7118 §5): nothing can be sent there. Right
/// after the transport, the Contact of every request and response that arrived over WS or WSS with
/// such a host is rewritten to the connection's address (<c>;transport=ws</c>), so dialogs send their
/// ACK, BYE and re-INVITE back over the browser's socket, as Asterisk's rewrite_contact does.
/// </summary>
public sealed unsafe class WebSocketContactRewriter : SipService
{
    public WebSocketContactRewriter()
        : base("pjsharp-ws-contact", SipServicePriority.TransportLayer + 1)
    {
    }

    protected internal override bool HandlesResponses => true;

    public override bool OnRequest(SipRequest request)
    {
        Rewrite(request.Native);
        return false;
    }

    public override bool OnResponse(SipResponse response)
    {
        Rewrite(response.Native);
        return false;
    }

    /// <summary>Rewrites the Contact of <paramref name="rdata"/> when it came over WS/WSS with a .invalid host; true when it did.</summary>
    internal static bool Rewrite(pjsip_rx_data* rdata)
    {
        var transport = rdata->tp_info.transport;
        if (transport == null || transport->type_name == null)
            return false;
        var typeName = new ReadOnlySpan<byte>(transport->type_name, 3);
        var secure = typeName.StartsWith("WSS"u8);
        if (!secure && !typeName[..2].SequenceEqual("WS"u8))
            return false;
        var contact = (pjsip_contact_hdr*)PjsipSipMsg.pjsip_msg_find_hdr(rdata->msg_info.msg, pjsip_hdr_e.PJSIP_H_CONTACT, null);
        if (contact == null || contact->uri == null)
            return false;
        var uri = MessageReader.SipUri(contact->uri);
        if (uri == null || !PjStr.AsSpan(uri->host).EndsWith(".invalid"u8))
            return false;
        if (MessageReader.SourceEndPoint(rdata) is not { } source)
            return false;
        var pool = rdata->tp_info.pool;
        uri->host = PjStr.FromPool(pool, source.Address.ToString());
        uri->port = source.Port;
        uri->transport_param = PjStr.FromPool(pool, secure ? "wss" : "ws");
        return true;
    }
}
