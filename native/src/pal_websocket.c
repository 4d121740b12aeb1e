/* WebSocket SIP transports (RFC 7118). pjsip has none: the socket lives in managed code,
 * and each connection is registered with pjsip's transport manager as a connection-oriented
 * transport of type "WS" or "WSS". pjsip hands printed messages to send_msg, which gives a
 * copy to managed code (it queues it for the socket); managed code feeds each received frame
 * (one whole SIP message) back through pjsharp_ws_receive. */
#include <string.h>
#include <pjsip.h>
#include "pjsharp.h"

#define THIS_FILE "pal_websocket.c"

typedef int (*pjsharp_ws_send_cb)(void *context, const char *data, pj_size_t length);
typedef void (*pjsharp_ws_event_cb)(void *context);

typedef struct pjsharp_ws_callbacks {
    pjsharp_ws_send_cb on_send;     /* copy and queue; never block */
    pjsharp_ws_event_cb on_shutdown;/* pjsip wants the connection closed */
    pjsharp_ws_event_cb on_destroy; /* the transport is gone: release the context */
} pjsharp_ws_callbacks;

typedef struct pjsharp_ws_transport {
    pjsip_transport base;
    void *context;
    pjsip_rx_data rdata;
} pjsharp_ws_transport;

static pjsharp_ws_callbacks s_callbacks;
static int s_type_ws = PJSIP_TRANSPORT_UNSPECIFIED;
static int s_type_wss = PJSIP_TRANSPORT_UNSPECIFIED;
static int s_ipv6_registered;

PJSHARP_EXPORT void pjsharp_ws_set_callbacks(const pjsharp_ws_callbacks *callbacks)
{
    if (callbacks)
        s_callbacks = *callbacks;
    else
        memset(&s_callbacks, 0, sizeof(s_callbacks));
}

/* Registers the WS and WSS transport types once per process (pjsip's type table is static). */
PJSHARP_EXPORT pj_status_t pjsharp_ws_register_types(int *ws_type, int *wss_type)
{
    pj_status_t status;
    if (s_type_ws == PJSIP_TRANSPORT_UNSPECIFIED) {
        status = pjsip_transport_register_type(PJSIP_TRANSPORT_RELIABLE, "WS", 80, &s_type_ws);
        if (status != PJ_SUCCESS)
            return status;
    }
    if (s_type_wss == PJSIP_TRANSPORT_UNSPECIFIED) {
        status = pjsip_transport_register_type(PJSIP_TRANSPORT_RELIABLE | PJSIP_TRANSPORT_SECURE,
                                               "WSS", 443, &s_type_wss);
        if (status != PJ_SUCCESS)
            return status;
    }
    /* pjsip looks IPv6 destinations up as type | PJSIP_TRANSPORT_IPV6: registering the same name
     * with the IPv6 flag gives exactly that type. */
    if (!s_ipv6_registered) {
        int type6;
        status = pjsip_transport_register_type(PJSIP_TRANSPORT_RELIABLE | PJSIP_TRANSPORT_IPV6, "WS", 80, &type6);
        if (status == PJ_SUCCESS)
            status = pjsip_transport_register_type(PJSIP_TRANSPORT_RELIABLE | PJSIP_TRANSPORT_SECURE | PJSIP_TRANSPORT_IPV6,
                                                   "WSS", 443, &type6);
        if (status != PJ_SUCCESS)
            return status;
        s_ipv6_registered = 1;
    }
    if (ws_type)
        *ws_type = s_type_ws;
    if (wss_type)
        *wss_type = s_type_wss;
    return PJ_SUCCESS;
}

static pj_status_t ws_send_msg(pjsip_transport *transport, pjsip_tx_data *tdata,
                               const pj_sockaddr_t *rem_addr, int addr_len,
                               void *token, pjsip_transport_callback callback)
{
    pjsharp_ws_transport *ws = (pjsharp_ws_transport *)transport;
    pjsharp_ws_send_cb send = s_callbacks.on_send;
    if (!send || transport->is_shutdown)
        return PJSIP_ETPNOTAVAIL;
    /* The managed side copies the bytes before returning; completion is synchronous. */
    return send(ws->context, tdata->buf.start, (pj_size_t)(tdata->buf.cur - tdata->buf.start));
}

static pj_status_t ws_shutdown(pjsip_transport *transport)
{
    pjsharp_ws_transport *ws = (pjsharp_ws_transport *)transport;
    if (s_callbacks.on_shutdown)
        s_callbacks.on_shutdown(ws->context);
    return PJ_SUCCESS;
}

static pj_status_t ws_destroy(pjsip_transport *transport)
{
    pjsharp_ws_transport *ws = (pjsharp_ws_transport *)transport;
    void *context = ws->context;
    ws->context = NULL;
    if (ws->rdata.tp_info.pool) {
        pj_pool_release(ws->rdata.tp_info.pool);
        ws->rdata.tp_info.pool = NULL;
    }
    if (transport->lock) {
        pj_lock_destroy(transport->lock);
        transport->lock = NULL;
    }
    if (transport->ref_cnt) {
        pj_atomic_destroy(transport->ref_cnt);
        transport->ref_cnt = NULL;
    }
    if (context && s_callbacks.on_destroy)
        s_callbacks.on_destroy(context);
    pj_pool_release(transport->pool);
    return PJ_SUCCESS;
}

static pj_status_t parse_address(const char *host, int port, pj_sockaddr *address)
{
    pj_str_t text = pj_str((char *)host);
    pj_status_t status = pj_sockaddr_parse(pj_AF_UNSPEC(), 0, &text, address);
    if (status != PJ_SUCCESS)
        return status;
    pj_sockaddr_set_port(address, (pj_uint16_t)port);
    return PJ_SUCCESS;
}

static void set_name(pj_pool_t *pool, pjsip_host_port *name, const pj_sockaddr *address)
{
    char text[PJ_INET6_ADDRSTRLEN + 1];
    pj_sockaddr_print(address, text, sizeof(text), 0);
    pj_strdup2(pool, &name->host, text);
    name->port = pj_sockaddr_get_port(address);
}

/* Registers one WebSocket connection as a pjsip transport, holding one reference for the
 * connection: release it with pjsharp_ws_close when the socket closes. */
PJSHARP_EXPORT pj_status_t pjsharp_ws_create(pjsip_endpoint *endpoint, int secure,
                                             const char *local_host, int local_port,
                                             const char *remote_host, int remote_port,
                                             void *context, pjsip_transport **result)
{
    pj_status_t status;
    pj_sockaddr local, remote;
    pj_pool_t *pool;
    pjsharp_ws_transport *ws;
    int type;

    if (!endpoint || !local_host || !remote_host || !result)
        return PJ_EINVAL;
    *result = NULL;
    status = pjsharp_ws_register_types(NULL, NULL);
    if (status != PJ_SUCCESS)
        return status;
    if ((status = parse_address(local_host, local_port, &local)) != PJ_SUCCESS ||
        (status = parse_address(remote_host, remote_port, &remote)) != PJ_SUCCESS)
        return status;
    type = secure ? s_type_wss : s_type_ws;
    if (remote.addr.sa_family == pj_AF_INET6())
        type |= PJSIP_TRANSPORT_IPV6;

    pool = pjsip_endpt_create_pool(endpoint, "ws%p", 1024, 1024);
    if (!pool)
        return PJ_ENOMEM;
    ws = PJ_POOL_ZALLOC_T(pool, pjsharp_ws_transport);
    ws->context = context;
    ws->base.pool = pool;
    pj_ansi_snprintf(ws->base.obj_name, PJ_MAX_OBJ_NAME, "%s%p", secure ? "wss" : "ws", ws);
    status = pj_atomic_create(pool, 0, &ws->base.ref_cnt);
    if (status == PJ_SUCCESS)
        status = pj_lock_create_recursive_mutex(pool, ws->base.obj_name, &ws->base.lock);
    if (status != PJ_SUCCESS)
        goto failed;

    ws->base.key.type = type;
    pj_sockaddr_cp(&ws->base.key.rem_addr, &remote);
    ws->base.type_name = (char *)pjsip_transport_get_type_name((pjsip_transport_type_e)type);
    ws->base.flag = pjsip_transport_get_flag_from_type((pjsip_transport_type_e)type);
    ws->base.info = secure ? "WSS connection" : "WS connection";
    ws->base.addr_len = pj_sockaddr_get_len(&remote);
    pj_sockaddr_cp(&ws->base.local_addr, &local);
    set_name(pool, &ws->base.local_name, &local);
    set_name(pool, &ws->base.remote_name, &remote);
    ws->base.dir = PJSIP_TP_DIR_INCOMING;
    ws->base.endpt = endpoint;
    ws->base.send_msg = &ws_send_msg;
    ws->base.do_shutdown = &ws_shutdown;
    ws->base.destroy = &ws_destroy;

    /* One rx data per connection: frames of a connection are fed one at a time. */
    ws->rdata.tp_info.pool = pjsip_endpt_create_pool(endpoint, "rws%p", PJSIP_POOL_RDATA_LEN, PJSIP_POOL_RDATA_INC);
    if (!ws->rdata.tp_info.pool) {
        status = PJ_ENOMEM;
        goto failed;
    }
    ws->rdata.tp_info.transport = &ws->base;
    ws->rdata.tp_info.tp_data = ws;
    ws->rdata.tp_info.op_key.rdata = &ws->rdata;
    pj_ioqueue_op_key_init(&ws->rdata.tp_info.op_key.op_key, sizeof(pj_ioqueue_op_key_t));
    pj_sockaddr_cp(&ws->rdata.pkt_info.src_addr, &remote);
    ws->rdata.pkt_info.src_addr_len = pj_sockaddr_get_len(&remote);
    pj_sockaddr_print(&remote, ws->rdata.pkt_info.src_name, sizeof(ws->rdata.pkt_info.src_name), 0);
    ws->rdata.pkt_info.src_port = pj_sockaddr_get_port(&remote);

    status = pjsip_transport_register(pjsip_endpt_get_tpmgr(endpoint), &ws->base);
    if (status != PJ_SUCCESS)
        goto failed;
    pjsip_transport_add_ref(&ws->base);
    *result = &ws->base;
    return PJ_SUCCESS;

failed:
    if (ws->rdata.tp_info.pool)
        pj_pool_release(ws->rdata.tp_info.pool);
    if (ws->base.lock)
        pj_lock_destroy(ws->base.lock);
    if (ws->base.ref_cnt)
        pj_atomic_destroy(ws->base.ref_cnt);
    pj_pool_release(pool);
    return status;
}

/* A frame delimits its message, so RFC 7118 makes Content-Length unnecessary; pjsip's stream
 * parsing needs it. When it is missing, it is inserted before the blank line that ends the
 * headers (if the buffer has room). Returns the new length. */
static pj_size_t add_content_length(char *packet, pj_size_t length)
{
    pj_size_t size, head, body;
    char header[48];
    int written;

    if (pjsip_find_msg(packet, length, PJ_FALSE, &size) != PJSIP_EMISSINGHDR)
        return length;
    for (head = 0; head + 4 <= length; ++head) {
        if (memcmp(packet + head, "\r\n\r\n", 4) == 0)
            break;
    }
    if (head + 4 > length)
        return length;
    body = length - head - 4;
    written = pj_ansi_snprintf(header, sizeof(header), "\r\nContent-Length: %lu", (unsigned long)body);
    if (written <= 0 || length + (pj_size_t)written >= PJSIP_MAX_PKT_LEN)
        return length;
    memmove(packet + head + written, packet + head, length - head);
    memcpy(packet + head, header, (pj_size_t)written);
    length += (pj_size_t)written;
    packet[length] = '\0';
    return length;
}

/* One received frame: one whole SIP message (RFC 7118 §5). Calls for one transport must not
 * overlap. Returns PJ_SUCCESS when pjsip took the message (a malformed one it answers or drops
 * itself), PJSIP_EPARTIALMSG when the frame is not a whole message, PJSIP_EMSGTOOLONG when it is
 * too long for the rx buffer, PJSIP_ETPNOTAVAIL once the transport is shut down. */
PJSHARP_EXPORT pj_status_t pjsharp_ws_receive(pjsip_transport *transport, const char *data, pj_size_t length)
{
    pjsharp_ws_transport *ws = (pjsharp_ws_transport *)transport;
    pjsip_rx_data *rdata;
    pj_ssize_t eaten;

    if (!transport || (!data && length))
        return PJ_EINVAL;
    if (transport->is_shutdown || transport->is_destroying)
        return PJSIP_ETPNOTAVAIL;
    if (length >= PJSIP_MAX_PKT_LEN)
        return PJSIP_EMSGTOOLONG;
    rdata = &ws->rdata;
    memcpy(rdata->pkt_info.packet, data, length);
    rdata->pkt_info.packet[length] = '\0';
    length = add_content_length(rdata->pkt_info.packet, length);
    rdata->pkt_info.len = (pj_ssize_t)length;
    rdata->pkt_info.zero = 0;
    pj_gettimeofday(&rdata->pkt_info.timestamp);
    eaten = pjsip_tpmgr_receive_packet(transport->tpmgr, rdata);
    /* What pjsip kept (a message's strings) lived in this pool; it is reused for the next frame. */
    pj_pool_reset(rdata->tp_info.pool);
    memset(&rdata->msg_info, 0, sizeof(rdata->msg_info));
    memset(&rdata->endpt_info, 0, sizeof(rdata->endpt_info));
    return eaten > 0 ? PJ_SUCCESS : PJSIP_EPARTIALMSG;
}

/* The socket closed: no more sends; pjsip destroys the transport once nobody uses it. */
PJSHARP_EXPORT pj_status_t pjsharp_ws_close(pjsip_transport *transport)
{
    if (!transport)
        return PJ_EINVAL;
    if (!transport->is_shutdown)
        pjsip_transport_shutdown(transport);
    return pjsip_transport_dec_ref(transport);
}
