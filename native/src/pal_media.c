/* Media transport calls that pjmedia declares inline, and the RTP forwarder behind the
 * echo application and bridged calls: it runs per packet on the ioqueue thread, so it
 * stays in C. */
#include <pjmedia.h>
#include "pjsharp.h"

PJSHARP_EXPORT pj_status_t pjsharp_media_transport_close(pjmedia_transport *tp)
{
    return pjmedia_transport_close(tp);
}

PJSHARP_EXPORT void pjsharp_media_transport_detach(pjmedia_transport *tp, void *user_data)
{
    pjmedia_transport_detach(tp, user_data);
}

PJSHARP_EXPORT pj_status_t pjsharp_media_transport_send_rtp(pjmedia_transport *tp, const void *packet, pj_size_t size)
{
    return pjmedia_transport_send_rtp(tp, packet, size);
}

/* Starts reading: pjmedia's UDP transport delivers nothing before media_start. */
PJSHARP_EXPORT pj_status_t pjsharp_media_transport_start(pjmedia_transport *tp, pj_pool_t *pool,
                                                         const pjmedia_sdp_session *local,
                                                         const pjmedia_sdp_session *remote, unsigned index)
{
    return pjmedia_transport_media_start(tp, pool, local, remote, index);
}

PJSHARP_EXPORT pj_status_t pjsharp_media_transport_stop(pjmedia_transport *tp)
{
    return pjmedia_transport_media_stop(tp);
}

/* Packets from one new source in a row before the echo follows it (as pjmedia's stream does). */
#define PJSHARP_ECHO_PROBATION 10

typedef struct pjsharp_echo {
    /* Where received packets go out: the same transport (echo) or the other leg's (relay). */
    pjmedia_transport *out;
    pj_bool_t symmetric;
    pj_sockaddr remote;
    pj_sockaddr candidate;
    unsigned candidate_count;
    /* RTP packets received (after SRTP, when the transport decrypts): written by the ioqueue thread only. */
    volatile pj_uint64_t received;
} pjsharp_echo;

static void echo_rtp(pjmedia_tp_cb_param *param)
{
    pjsharp_echo *echo = (pjsharp_echo *)param->user_data;
    if (param->size <= 0)
        return;
    echo->received++;
    /* rtp_symmetric: once RTP keeps coming from elsewhere, answer there (pjmedia switches on our word). */
    if (echo->symmetric && param->src_addr && pj_sockaddr_cmp(param->src_addr, &echo->remote) != 0) {
        if (pj_sockaddr_cmp(param->src_addr, &echo->candidate) == 0) {
            if (++echo->candidate_count >= PJSHARP_ECHO_PROBATION) {
                pj_sockaddr_cp(&echo->remote, param->src_addr);
                param->rem_switch = PJ_TRUE;
            }
        } else {
            pj_sockaddr_cp(&echo->candidate, param->src_addr);
            echo->candidate_count = 1;
        }
    }
    pjmedia_transport_send_rtp(echo->out, param->pkt, (pj_size_t)param->size);
}

static void echo_rtcp(void *user_data, void *packet, pj_ssize_t size)
{
    PJ_UNUSED_ARG(user_data);
    PJ_UNUSED_ARG(packet);
    PJ_UNUSED_ARG(size);
}

static void relay_rtcp(void *user_data, void *packet, pj_ssize_t size)
{
    pjsharp_echo *relay = (pjsharp_echo *)user_data;
    if (size > 0)
        pjmedia_transport_send_rtcp(relay->out, packet, (pj_size_t)size);
}

static pj_status_t attach_forwarder(pjmedia_transport *tp, pj_pool_t *pool, const pj_sockaddr *remote_rtp,
                                    const pj_sockaddr *remote_rtcp, pj_bool_t symmetric, pjmedia_transport *out,
                                    void (*rtcp_cb)(void *, void *, pj_ssize_t), void **state_out)
{
    pjsharp_echo *echo = PJ_POOL_ZALLOC_T(pool, pjsharp_echo);
    if (!echo)
        return PJ_ENOMEM;
    echo->out = out;
    echo->symmetric = symmetric;
    pj_sockaddr_cp(&echo->remote, remote_rtp);

    pjmedia_transport_attach_param param;
    pj_bzero(&param, sizeof(param));
    param.user_data = echo;
    pj_sockaddr_cp(&param.rem_addr, remote_rtp);
    pj_sockaddr_cp(&param.rem_rtcp, remote_rtcp);
    param.addr_len = pj_sockaddr_get_len(remote_rtp);
    param.rtp_cb2 = &echo_rtp;
    param.rtcp_cb = rtcp_cb;
    pj_status_t status = pjmedia_transport_attach2(tp, &param);
    if (status == PJ_SUCCESS)
        *state_out = echo;
    return status;
}

/* Sends every RTP packet received on tp back to the peer: to its SDP address, or, with
 * symmetric set, to where the packets come from once they keep coming from there. The state
 * lives in pool; *echo_out is what pjsharp_media_transport_detach takes. */
PJSHARP_EXPORT pj_status_t pjsharp_media_echo_attach(pjmedia_transport *tp, pj_pool_t *pool, const pj_sockaddr *remote_rtp,
                                                     const pj_sockaddr *remote_rtcp, pj_bool_t symmetric, void **echo_out)
{
    return attach_forwarder(tp, pool, remote_rtp, remote_rtcp, symmetric, tp, &echo_rtcp, echo_out);
}

/* One direction of a bridged call: RTP and RTCP received on tp (from remote_rtp, its peer) go
 * out through out, to out's own peer. out must stay open until this side is detached; the
 * caller detaches both directions before closing either transport. */
PJSHARP_EXPORT pj_status_t pjsharp_media_relay_attach(pjmedia_transport *tp, pj_pool_t *pool, const pj_sockaddr *remote_rtp,
                                                      const pj_sockaddr *remote_rtcp, pj_bool_t symmetric, pjmedia_transport *out,
                                                      void **relay_out)
{
    return attach_forwarder(tp, pool, remote_rtp, remote_rtcp, symmetric, out, &relay_rtcp, relay_out);
}

/* How many RTP packets an echo or relay direction has received so far. */
PJSHARP_EXPORT pj_uint64_t pjsharp_media_echo_received(const void *echo)
{
    return echo ? ((const pjsharp_echo *)echo)->received : 0;
}

/* pjlib's address family values are extern constants behind function-like macros. */
PJSHARP_EXPORT int pjsharp_af_inet(void)
{
    return pj_AF_INET();
}

PJSHARP_EXPORT int pjsharp_af_inet6(void)
{
    return pj_AF_INET6();
}

/* ---- WebRTC media: ICE, DTLS-SRTP and the SDP they write ---- */

PJSHARP_EXPORT pj_status_t pjsharp_media_transport_media_create(pjmedia_transport *tp, pj_pool_t *pool, unsigned options,
                                                                const pjmedia_sdp_session *remote, unsigned index)
{
    return pjmedia_transport_media_create(tp, pool, options, remote, index);
}

/* Lets the transport write its attributes (ICE credentials and candidates, the DTLS fingerprint
 * and setup role, rtcp-mux) into the m= line at index of local; remote is the offer when
 * answering, else NULL. */
PJSHARP_EXPORT pj_status_t pjsharp_media_transport_encode_sdp(pjmedia_transport *tp, pj_pool_t *pool, pjmedia_sdp_session *local,
                                                              const pjmedia_sdp_session *remote, unsigned index)
{
    return pjmedia_transport_encode_sdp(tp, pool, local, remote, index);
}

/* The ports a transport receives RTP and RTCP on (ICE binds its components within a range, so
 * RTP may have the higher one). */
PJSHARP_EXPORT pj_status_t pjsharp_media_transport_ports(pjmedia_transport *tp, int *rtp, int *rtcp)
{
    pjmedia_transport_info info;
    pj_status_t status;
    pjmedia_transport_info_init(&info);
    status = pjmedia_transport_get_info(tp, &info);
    if (status != PJ_SUCCESS)
        return status;
    *rtp = pj_sockaddr_get_port(&info.sock_info.rtp_addr_name);
    *rtcp = pj_sockaddr_get_port(&info.sock_info.rtcp_addr_name);
    return PJ_SUCCESS;
}

/* What the managed side hears of a transport chain. */
enum {
    PJSHARP_MEDIA_EVENT_ICE_INIT = 1,
    PJSHARP_MEDIA_EVENT_ICE_NEGOTIATED = 2,
    PJSHARP_MEDIA_EVENT_DTLS_NEGOTIATED = 3,
};

typedef void (*pjsharp_media_event_cb)(void *user_data, int event, pj_status_t status);

typedef struct pjsharp_media_listener {
    pjsharp_media_event_cb cb;
    void *user_data;
} pjsharp_media_listener;

static void ice_complete(pjmedia_transport *tp, pj_ice_strans_op op, pj_status_t status, void *user_data)
{
    pjsharp_media_listener *listener = (pjsharp_media_listener *)user_data;
    PJ_UNUSED_ARG(tp);
    if (!listener || !listener->cb)
        return;
    if (op == PJ_ICE_STRANS_OP_INIT)
        listener->cb(listener->user_data, PJSHARP_MEDIA_EVENT_ICE_INIT, status);
    else if (op == PJ_ICE_STRANS_OP_NEGOTIATION)
        listener->cb(listener->user_data, PJSHARP_MEDIA_EVENT_ICE_NEGOTIATED, status);
}

static void srtp_complete(pjmedia_transport *tp, pj_status_t status)
{
    pjsharp_media_listener *listener = (pjsharp_media_listener *)tp->user_data;
    if (listener && listener->cb)
        listener->cb(listener->user_data, PJSHARP_MEDIA_EVENT_DTLS_NEGOTIATED, status);
}

static pjsharp_media_listener *new_listener(pj_pool_t *pool, pjsharp_media_event_cb cb, void *user_data)
{
    pjsharp_media_listener *listener = PJ_POOL_ZALLOC_T(pool, pjsharp_media_listener);
    if (listener) {
        listener->cb = cb;
        listener->user_data = user_data;
    }
    return listener;
}

/* An ICE transport (full ICE, host candidates only: no STUN or TURN server) whose sockets are
 * bound to address, from port up (comp_cnt ports: 1 with rtcp-mux, else 2). STUN's config is
 * inline in pjnath, and ICE's timers must run on a heap that is polled: pjsip's. */
PJSHARP_EXPORT pj_status_t pjsharp_media_ice_create(pjmedia_endpt *endpt, pj_pool_factory *factory, pj_timer_heap_t *timers,
                                                    pj_pool_t *pool, const pj_str_t *address, unsigned port, unsigned comp_cnt,
                                                    pjsharp_media_event_cb cb, void *user_data, pjmedia_transport **tp_out)
{
    pj_ice_strans_cfg cfg;
    pjmedia_ice_cb ice_cb;
    pj_sockaddr bound;
    int af;
    pj_status_t status;

    status = pj_sockaddr_parse(pj_AF_UNSPEC(), 0, address, &bound);
    if (status != PJ_SUCCESS)
        return status;
    af = bound.addr.sa_family;

    pj_ice_strans_cfg_default(&cfg);
    pj_stun_config_init(&cfg.stun_cfg, factory, 0, pjmedia_endpt_get_ioqueue(endpt), timers);
    cfg.af = af;
    cfg.stun_tp_cnt = 1;
    pj_ice_strans_stun_cfg_default(&cfg.stun_tp[0]);
    cfg.stun_tp[0].af = af;
    /* The media address may be a loopback one (tests, a single host): keep it as a candidate. */
    cfg.stun_tp[0].loop_addr = PJ_TRUE;
    cfg.stun_tp[0].max_host_cands = 1;
    pj_sockaddr_cp(&cfg.stun_tp[0].cfg.bound_addr, &bound);
    pj_sockaddr_set_port(&cfg.stun_tp[0].cfg.bound_addr, (pj_uint16_t)port);
    /* One try per component within [port, port + comp_cnt - 1]: a collision fails the creation
     * and the caller tries the next pair of its range. */
    cfg.stun_tp[0].cfg.port_range = (pj_uint16_t)(comp_cnt > 1 ? comp_cnt - 1 : 0);

    /* Host candidates are gathered inside create3; what follows (the checks) is reported to
     * listeners, the only callbacks of pjmedia's ICE transport that carry a context. */
    status = pjmedia_ice_create3(endpt, NULL, comp_cnt, &cfg, NULL, 0, NULL, tp_out);
    if (status != PJ_SUCCESS)
        return status;
    pj_bzero(&ice_cb, sizeof(ice_cb));
    ice_cb.on_ice_complete2 = &ice_complete;
    status = pjmedia_ice_add_ice_cb(*tp_out, &ice_cb, new_listener(pool, cb, user_data));
    if (status != PJ_SUCCESS) {
        pjmedia_transport_close(*tp_out);
        *tp_out = NULL;
    }
    return status;
}

/* SRTP over member keyed by DTLS only (RFC 5764), mandatory; closing it closes member. pjmedia
 * makes its self-signed certificate once, for the first transport; the negotiation's end is
 * reported through cb, since pjmedia's callback carries no context of its own. */
PJSHARP_EXPORT pj_status_t pjsharp_media_srtp_dtls_create(pjmedia_endpt *endpt, pjmedia_transport *member, pj_pool_t *pool,
                                                          pjsharp_media_event_cb cb, void *user_data, pjmedia_transport **tp_out)
{
#if defined(PJMEDIA_HAS_SRTP) && PJMEDIA_HAS_SRTP != 0 && defined(PJMEDIA_SRTP_HAS_DTLS) && PJMEDIA_SRTP_HAS_DTLS != 0
    pjmedia_srtp_setting setting;
    pjmedia_srtp_setting_default(&setting);
    setting.use = PJMEDIA_SRTP_MANDATORY;
    setting.close_member_tp = PJ_TRUE;
    setting.keying_count = 1;
    setting.keying[0] = PJMEDIA_SRTP_KEYING_DTLS_SRTP;
    setting.cb.on_srtp_nego_complete = &srtp_complete;
    setting.user_data = new_listener(pool, cb, user_data);
    return pjmedia_transport_srtp_create(endpt, member, &setting, tp_out);
#else
    PJ_UNUSED_ARG(endpt);
    PJ_UNUSED_ARG(member);
    PJ_UNUSED_ARG(pool);
    PJ_UNUSED_ARG(cb);
    PJ_UNUSED_ARG(user_data);
    *tp_out = NULL;
    return PJ_ENOTSUP;
#endif
}
