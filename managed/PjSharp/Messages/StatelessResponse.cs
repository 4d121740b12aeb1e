using System.Text;
using PjSharp.Interop;

namespace PjSharp.Messages;

/// <summary>
/// Builds and sends a response without a transaction: the fast answer for challenges and for a
/// registrar, which answers a retransmission again rather than keeping a transaction for 32 s.
/// Header names and values are copied into the response's own pool, so callers can pass stack
/// memory and the path allocates nothing managed.
/// </summary>
internal static unsafe class StatelessResponse
{
    public static pjsip_tx_data* Create(SipEndpoint endpoint, pjsip_rx_data* rdata, int statusCode)
    {
        pjsip_tx_data* tdata;
        ThrowHelper.ThrowIfFailed(PjsipSipUtil.pjsip_endpt_create_response(endpoint.Native, rdata, statusCode, null, &tdata),
            "pjsip_endpt_create_response");
        return tdata;
    }

    /// <summary>Appends <c>name: value</c> to the response's headers.</summary>
    public static void AddHeader(pjsip_tx_data* tdata, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        // pjsip routes by typed Route headers only: a generic one would be sent but not followed.
        if (Ascii.EqualsIgnoreCase(name, "Route"u8))
        {
            AddRoutes(tdata, value);
            return;
        }
        fixed (byte* namePointer = name)
        fixed (byte* valuePointer = value)
        {
            var pjName = PjStr.FromPointer(namePointer, name.Length);
            var pjValue = PjStr.FromPointer(valuePointer, value.Length);
            var header = PjsipSipMsg.pjsip_generic_string_hdr_create(tdata->pool, &pjName, &pjValue);
            if (header == null)
                throw new PjSipException("pjsip_generic_string_hdr_create failed: out of memory.");
            Append(&tdata->msg->hdr, (pjsip_hdr*)header);
        }
    }

    private static void AddRoutes(pjsip_tx_data* tdata, ReadOnlySpan<byte> value)
    {
        var name = PjStr.FromPool(tdata->pool, "Route");
        foreach (var part in Encoding.UTF8.GetString(value).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var bytes = Encoding.UTF8.GetBytes(part);
            // The parser reads up to a NUL, so the copy lives in the message's pool.
            var line = (byte*)PjPool.pj_pool_alloc(tdata->pool, (nuint)bytes.Length + 1);
            if (line == null)
                throw new PjSipException("Out of pool memory for a Route header.");
            bytes.CopyTo(new Span<byte>(line, bytes.Length));
            line[bytes.Length] = 0;
            int parsed;
            var header = (pjsip_hdr*)PjsipSipParser.pjsip_parse_hdr(tdata->pool, &name, line, (nuint)bytes.Length, &parsed);
            if (header == null)
                throw new FormatException($"'{part}' is not a Route header value.");
            Append(&tdata->msg->hdr, header);
        }
    }

    /// <summary>Answers <paramref name="rdata"/> with <paramref name="statusCode"/> and these headers, in order (a name may repeat).</summary>
    public static void Respond(SipEndpoint endpoint, pjsip_rx_data* rdata, int statusCode, IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        var tdata = Create(endpoint, rdata, statusCode);
        try
        {
            foreach (var (name, value) in headers ?? [])
                AddHeader(tdata, System.Text.Encoding.UTF8.GetBytes(name), System.Text.Encoding.UTF8.GetBytes(value));
        }
        catch
        {
            _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
            throw;
        }
        Send(endpoint, rdata, tdata);
    }

    /// <summary>Sends to where RFC 3261 §18.2.2 says responses go; releases the response either way.</summary>
    public static void Send(SipEndpoint endpoint, pjsip_rx_data* rdata, pjsip_tx_data* tdata)
    {
        var status = PjsipSipUtil.pjsip_endpt_send_response2(endpoint.Native, rdata, tdata, null, null);
        if (status != ThrowHelper.Success)
        {
            _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
            ThrowHelper.Throw(status, "pjsip_endpt_send_response2");
        }
    }

    /// <summary>Links <paramref name="header"/> at the end of a header list (pjsip's own helper is inline).</summary>
    public static void Append(pjsip_hdr* list, pjsip_hdr* header)
    {
        header->prev = list->prev;
        header->next = list;
        list->prev->next = header;
        list->prev = header;
    }
}
