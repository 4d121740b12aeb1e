/* Access to received packets that pjsip drops before any module sees them. */
#include <stddef.h>
#include <string.h>
#include <pjsip.h>
#include "pjsharp.h"

/* The rx data a datagram transport was parsing when it reported dropped data,
 * so the caller can answer its source; NULL for stream transports (answer on
 * the connection) or when it cannot be found. pjsip hands the callback a
 * pointer into rdata->pkt_info.packet, past any leading CR/LF it skipped. */
PJSHARP_EXPORT pjsip_rx_data *pjsharp_rdata_from_dropped(const pjsip_tp_dropped_data *dropped)
{
    if (!dropped || !dropped->tp || !dropped->data)
        return NULL;
    if ((dropped->tp->flag & PJSIP_TRANSPORT_DATAGRAM) == 0)
        return NULL;

    const char *data = (const char *)dropped->data;
    for (pj_size_t skipped = 0; skipped < PJSIP_MAX_PKT_LEN; ++skipped) {
        const char *packet = data - skipped;
        const char *start = packet - offsetof(pjsip_rx_data, pkt_info.packet);
        /* Candidates may be misaligned until the right one: read fields bytewise. */
        pjsip_transport *transport;
        pj_ssize_t length;
        memcpy(&transport, start + offsetof(pjsip_rx_data, tp_info.transport), sizeof(transport));
        memcpy(&length, start + offsetof(pjsip_rx_data, pkt_info.len), sizeof(length));
        if (transport == dropped->tp && length >= (pj_ssize_t)(dropped->len + skipped))
            return (pjsip_rx_data *)start;
        /* Only CR/LF can lie between the packet start and the data. */
        char before = packet[-1];
        if (before != '\r' && before != '\n')
            break;
    }
    return NULL;
}
