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
} pjsharp_echo;

static void echo_rtp(pjmedia_tp_cb_param *param)
{
    pjsharp_echo *echo = (pjsharp_echo *)param->user_data;
    if (param->size <= 0)
        return;
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

/* pjlib's address family values are extern constants behind function-like macros. */
PJSHARP_EXPORT int pjsharp_af_inet(void)
{
    return pj_AF_INET();
}

PJSHARP_EXPORT int pjsharp_af_inet6(void)
{
    return pj_AF_INET6();
}
