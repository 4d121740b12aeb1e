using System.Net;
using System.Text;
using PjSharp.Interop;

namespace PjSharp.Messages;

/// <summary>Reads parsed pjsip messages. Every pointer here is valid only during the callback that gave it.</summary>
internal static unsafe class MessageReader
{
    private const int PrintBufferSize = 4096;

    public static string PrintUri(pjsip_uri_context_e context, void* uri)
    {
        if (uri == null)
            return "";
        var buffer = stackalloc byte[PrintBufferSize];
        var vptr = ((pjsip_uri*)uri)->vptr;
        var length = vptr == null ? 0 : (int)vptr->p_print(context, uri, buffer, PrintBufferSize);
        return length > 0 ? Encoding.UTF8.GetString(buffer, length) : "";
    }

    /// <summary>The sip: or sips: URI itself, inside a name-addr or not; null for other schemes.</summary>
    public static pjsip_sip_uri* SipUri(void* uri)
    {
        if (uri == null || ((pjsip_uri*)uri)->vptr == null)
            return null;
        var inner = ((pjsip_uri*)uri)->vptr->p_get_uri(uri);
        if (inner == null || ((pjsip_uri*)inner)->vptr == null)
            return null;
        var scheme = PjStr.AsSpan(*((pjsip_uri*)inner)->vptr->p_get_scheme(inner));
        return Ascii.EqualsIgnoreCase(scheme, "sip"u8) || Ascii.EqualsIgnoreCase(scheme, "sips"u8) ? (pjsip_sip_uri*)inner : null;
    }

    /// <summary>The user part of a sip:/sips: URI; empty for other schemes or none.</summary>
    public static ReadOnlySpan<byte> UriUser(void* uri)
    {
        var sip = SipUri(uri);
        return sip == null ? default : PjStr.AsSpan(sip->user);
    }

    /// <summary>A header's value as it would be printed, without the name.</summary>
    public static string? PrintHeaderValue(pjsip_hdr* header)
    {
        if (header == null)
            return null;
        var size = PrintBufferSize;
        while (true)
        {
            // Pooled: a REGISTER reads several headers, and a fresh buffer each time is garbage.
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
            try
            {
                int length;
                fixed (byte* pointer = buffer)
                    length = PjsipSipMsg.pjsip_hdr_print_on(header, pointer, (nuint)buffer.Length);
                if (length >= 0)
                {
                    var line = buffer.AsSpan(0, length);
                    var colon = line.IndexOf((byte)':');
                    var value = colon >= 0 ? line[(colon + 1)..] : line;
                    return Encoding.UTF8.GetString(value.Trim((byte)' '));
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
            if (size >= 1 << 20)
                return null;
            size *= 4;
        }
    }

    public static pjsip_hdr* FindHeader(pjsip_msg* message, string name, pjsip_hdr* start = null)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        fixed (byte* pointer = bytes)
        {
            var pjName = PjStr.FromPointer(pointer, bytes.Length);
            return (pjsip_hdr*)PjsipSipMsg.pjsip_msg_find_hdr_by_name(message, &pjName, start);
        }
    }

    public static IReadOnlyList<string> HeaderValues(pjsip_msg* message, string name)
    {
        var values = new List<string>();
        var header = FindHeader(message, name);
        while (header != null)
        {
            var value = PrintHeaderValue(header);
            if (value != null)
                values.Add(value);
            header = FindHeader(message, name, header->next);
        }
        return values;
    }

    public static ReadOnlySpan<byte> Body(pjsip_msg* message) =>
        message == null || message->body == null || message->body->data == null
            ? default
            : new ReadOnlySpan<byte>(message->body->data, checked((int)message->body->len));

    public static string? ContentType(pjsip_msg* message)
    {
        if (message == null || message->body == null)
            return null;
        ref var type = ref message->body->content_type;
        return $"{PjStr.ToManagedString(type.type)}/{PjStr.ToManagedString(type.subtype)}";
    }

    public static IPEndPoint? SourceEndPoint(pjsip_rx_data* rdata)
    {
        var name = new ReadOnlySpan<byte>(rdata->pkt_info.src_name, PjConstants.PJ_INET6_ADDRSTRLEN);
        var end = name.IndexOf((byte)0);
        return IPAddress.TryParse(Encoding.ASCII.GetString(end >= 0 ? name[..end] : name), out var address)
            ? new IPEndPoint(address, rdata->pkt_info.src_port)
            : null;
    }

    /// <summary>A transport's local address and port.</summary>
    public static (PjSharp.Interception.SourceAddress Address, int Port) LocalAddress(pjsip_transport* transport)
    {
        if (transport == null)
            return (default, 0);
        var address = PjSharp.Interception.SourceAddress.FromSocketAddress(&transport->local_addr, transport->addr_len);
        return (address, transport->local_name.port);
    }

    public static string TransportName(pjsip_rx_data* rdata) =>
        rdata->tp_info.transport == null ? "" : Marshalling.Utf8(rdata->tp_info.transport->type_name);
}

internal static unsafe class Marshalling
{
    public static string Utf8(byte* text) =>
        text == null ? "" : System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)text) ?? "";
}
