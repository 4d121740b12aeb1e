using PjSharp.Interop;

namespace PjSharp.Services;

/// <summary>
/// Answers out-of-dialog OPTIONS with 200, with the endpoint's Allow, Accept and Supported
/// capabilities (RFC 3261 §11.2); optionally answers any other out-of-dialog request nobody
/// handled with 501. Both answers are stateless: a retransmitted OPTIONS is answered again, which
/// costs less than a transaction and its response kept for timer J's 32 s (over UDP, at qualify
/// and keep-alive rates, most of pjsip's pools).
/// </summary>
public sealed unsafe class OptionsService : SipService, IDisposable
{
    private readonly SipEndpoint _endpoint;
    private readonly bool _rejectOthers;
    private readonly PjSharp.Interception.SecurityEvents? _events;
    private readonly Lock _rebuild = new();
    // Every snapshot's pool lives until Dispose: another worker may still be answering with it.
    private readonly List<nint> _pools = [];
    private volatile Snapshot? _snapshot;
    private bool _disposed;

    /// <param name="endpoint">The endpoint whose capabilities the answer advertises.</param>
    /// <param name="rejectUnhandled">Also answer other out-of-dialog requests (not ACK) with 501 Not Implemented.</param>
    /// <param name="events">Where a 501 is reported as the security event "request not supported".</param>
    public OptionsService(SipEndpoint endpoint, bool rejectUnhandled = false, PjSharp.Interception.SecurityEvents? events = null)
        : base("pjsharp-options", SipServicePriority.Application)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        _endpoint = endpoint;
        _rejectOthers = rejectUnhandled;
        _events = events;
    }

    public override IReadOnlyCollection<string> Methods => ["OPTIONS"];

    public override bool OnRequest(SipRequest request)
    {
        if (request.IsInDialog)
            return false;
        var method = request.Method;
        if (method == SipMethod.Options)
        {
            request.RespondStateless(200, CurrentHeaders());
            return true;
        }
        if (_rejectOthers && method != SipMethod.Ack)
        {
            // pjsip's own reason text for 501, so the answer allocates nothing.
            request.RespondStateless(501);
            _events?.RequestNotSupported(request.SourceAddress, request.MethodName);
            return true;
        }
        return false;
    }

    private pjsip_hdr* CurrentHeaders()
    {
        var version = _endpoint.CapabilityVersion;
        var snapshot = _snapshot;
        if (snapshot != null && snapshot.Version == version)
            return snapshot.Headers;
        lock (_rebuild)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            snapshot = _snapshot;
            if (snapshot == null || snapshot.Version != version)
            {
                snapshot = Build(version);
                _snapshot = snapshot;
            }
            return snapshot.Headers;
        }
    }

    // Allow from the endpoint's services and pjsip's modules; Accept and Supported as pjsip declares them.
    private Snapshot Build(int version)
    {
        PjThread.EnsureRegistered();
        var pool = PjsipSipEndpoint.pjsip_endpt_create_pool(_endpoint.Native, null, 1024, 1024);
        _pools.Add((nint)pool);
        var headers = (pjsip_hdr*)PjPool.pj_pool_calloc(pool, 1, (nuint)sizeof(pjsip_hdr));
        headers->next = headers;
        headers->prev = headers;

        var methods = _endpoint.AllowedMethods;
        var allow = PjsipSipMsg.pjsip_allow_hdr_create(pool);
        foreach (var method in methods.Take(PjConstants.PJSIP_GENERIC_ARRAY_MAX_COUNT))
            allow->values[(int)allow->count++] = PjStr.FromPool(pool, method);
        PjSharp.Messages.StatelessResponse.Append(headers, (pjsip_hdr*)allow);

        foreach (var type in new[] { pjsip_hdr_e.PJSIP_H_ACCEPT, pjsip_hdr_e.PJSIP_H_SUPPORTED })
        {
            var capability = PjsipSipEndpoint.pjsip_endpt_get_capability(_endpoint.Native, (int)type, null);
            if (capability != null)
                PjSharp.Messages.StatelessResponse.Append(headers, (pjsip_hdr*)PjsipSipMsg.pjsip_hdr_clone(pool, capability));
        }
        return new Snapshot(version, headers);
    }

    public void Dispose()
    {
        lock (_rebuild)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        _endpoint.UnregisterService(this);
        // After the endpoint is destroyed the pools went with its pool factory.
        if (!_endpoint.IsDestroyed)
        {
            PjThread.EnsureRegistered();
            foreach (var pool in _pools)
                PjPool.pj_pool_release((pj_pool_t*)pool);
        }
        _pools.Clear();
        _snapshot = null;
    }

    private sealed class Snapshot(int version, pjsip_hdr* headers)
    {
        public int Version { get; } = version;

        public pjsip_hdr* Headers { get; } = headers;
    }
}
