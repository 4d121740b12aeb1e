using PjSharp.Interop;

namespace PjSharp.Services;

/// <summary>
/// Answers out-of-dialog OPTIONS with 200 through a server transaction, with the endpoint's
/// Allow, Accept and Supported capabilities (RFC 3261 §11.2); optionally answers any other
/// out-of-dialog request nobody handled with 501.
/// </summary>
public sealed unsafe class OptionsService : SipService, IDisposable
{
    private readonly SipEndpoint _endpoint;
    private readonly bool _rejectOthers;
    private pj_pool_t* _pool;
    private pjsip_hdr* _headers;

    /// <param name="endpoint">The endpoint whose capabilities the answer advertises.</param>
    /// <param name="rejectUnhandled">Also answer other out-of-dialog requests (not ACK) with 501 Not Implemented.</param>
    public OptionsService(SipEndpoint endpoint, bool rejectUnhandled = false)
        : base("pjsharp-options", SipServicePriority.Application)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endpoint = endpoint;
        _rejectOthers = rejectUnhandled;
        PjThread.EnsureRegistered();
        _pool = PjsipSipEndpoint.pjsip_endpt_create_pool(endpoint.Native, null, 1024, 1024);
        _headers = (pjsip_hdr*)PjPool.pj_pool_calloc(_pool, 1, (nuint)sizeof(pjsip_hdr));
        _headers->next = _headers;
        _headers->prev = _headers;
        foreach (var type in new[] { pjsip_hdr_e.PJSIP_H_ALLOW, pjsip_hdr_e.PJSIP_H_ACCEPT, pjsip_hdr_e.PJSIP_H_SUPPORTED })
        {
            var capability = PjsipSipEndpoint.pjsip_endpt_get_capability(endpoint.Native, (int)type, null);
            if (capability == null)
                continue;
            var copy = (pjsip_hdr*)PjsipSipMsg.pjsip_hdr_clone(_pool, capability);
            // Append to the circular list headed by _headers.
            copy->prev = _headers->prev;
            copy->next = _headers;
            _headers->prev->next = copy;
            _headers->prev = copy;
        }
    }

    public override bool OnRequest(SipRequest request)
    {
        if (request.IsInDialog)
            return false;
        var method = request.Method;
        if (method == SipMethod.Options)
        {
            request.RespondStateful(200, null, _headers);
            return true;
        }
        if (_rejectOthers && method != SipMethod.Ack)
        {
            request.RespondStateless(501, "Not Implemented");
            return true;
        }
        return false;
    }

    public void Dispose()
    {
        if (_pool == null)
            return;
        _endpoint.UnregisterService(this);
        PjThread.EnsureRegistered();
        PjPool.pj_pool_release(_pool);
        _pool = null;
        _headers = null;
    }
}
