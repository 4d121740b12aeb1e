using PjSharp.Interop;

namespace PjSharp.Interception;

/// <summary>
/// One request on its way through the interception stages: valid only during the callback.
/// Stages read the request and leave what they learned (the endpoint) for the next ones.
/// </summary>
public unsafe ref struct InterceptionContext
{
    internal InterceptionContext(SipEndpoint sipEndpoint, SipRequest request, SecurityDirectory directory)
    {
        SipEndpoint = sipEndpoint;
        Request = request;
        Directory = directory;
        Source = SourceAddress.FromPacket(request.Native);
    }

    internal SipEndpoint SipEndpoint { get; }

    public SipRequest Request { get; }

    public SourceAddress Source { get; }

    public SecurityDirectory Directory { get; }

    /// <summary>The endpoint the request belongs to, once a stage identified it (or the artificial one).</summary>
    public EndpointIdentity? Endpoint { get; set; }

    /// <summary>Set when digest authentication succeeded for <see cref="Endpoint"/>.</summary>
    public bool Authenticated { get; set; }
}
