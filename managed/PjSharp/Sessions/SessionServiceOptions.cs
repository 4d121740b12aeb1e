using PjSharp.DataAccess;

namespace PjSharp.Sessions;

/// <summary>Settings of the session service.</summary>
public sealed class SessionServiceOptions
{
    /// <summary>The first RTP port handed out (even); RTCP uses the next one.</summary>
    public int RtpPortStart { get; set; } = 10000;

    /// <summary>The last RTP port handed out.</summary>
    public int RtpPortEnd { get; set; } = 20000;

    /// <summary>The address put in SDP; default: the local address the INVITE arrived on (or the first transport's for outgoing calls).</summary>
    public string? MediaAddress { get; set; }

    /// <summary>The endpoint used when no interception pipeline identifies one (a library without security configured).</summary>
    public Endpoint DefaultEndpoint { get; set; } = new("default") { Context = "default" };

    /// <summary>Finds an <c>auth</c> object by id, for outgoing calls' <c>outbound_auth</c>.</summary>
    public Func<string, CancellationToken, ValueTask<Auth?>>? FindAuth { get; set; }

    /// <summary>Most work items queued on one call's servant before new messages for it are answered 503.</summary>
    public int MaxQueuedPerCall { get; set; } = 256;
}
