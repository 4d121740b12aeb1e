/* Media transport calls that pjmedia declares inline, and the RTP reflector behind
 * the echo application: it runs per packet on the ioqueue thread, so it stays in C. */
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

static void echo_rtp(pjmedia_tp_cb_param *param)
{
    pjmedia_transport *tp = (pjmedia_transport *)param->user_data;
    if (param->size > 0)
        pjmedia_transport_send_rtp(tp, param->pkt, (pj_size_t)param->size);
}

static void echo_rtcp(void *user_data, void *packet, pj_ssize_t size)
{
    PJ_UNUSED_ARG(user_data);
    PJ_UNUSED_ARG(packet);
    PJ_UNUSED_ARG(size);
}

/* Sends every RTP packet received on tp back to the peer (its SDP address, or where
 * the packets come from once pjmedia has switched to the source address). */
PJSHARP_EXPORT pj_status_t pjsharp_media_echo_attach(pjmedia_transport *tp, const pj_sockaddr *remote_rtp,
                                                     const pj_sockaddr *remote_rtcp)
{
    pjmedia_transport_attach_param param;
    pj_bzero(&param, sizeof(param));
    param.user_data = tp;
    pj_sockaddr_cp(&param.rem_addr, remote_rtp);
    pj_sockaddr_cp(&param.rem_rtcp, remote_rtcp);
    param.addr_len = pj_sockaddr_get_len(remote_rtp);
    param.rtp_cb2 = &echo_rtp;
    param.rtcp_cb = &echo_rtcp;
    return pjmedia_transport_attach2(tp, &param);
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
