namespace PjSharp.Sessions;

/// <summary>
/// Adds processing to every request and response a session sends or receives: INVITE and
/// re-INVITE, UPDATE, PRACK, INFO, MESSAGE, REFER, BYE, CANCEL and their responses.
/// Register and unregister at run time through <see cref="SessionService.Extensions"/>; lower
/// <see cref="Priority"/> runs first (ties keep registration order).
/// <para>
/// Incoming hooks run on the session's servant before pjsip's dialog sees the message; outgoing
/// hooks run wherever the message is sent (the servant, or a pjsip thread for messages pjsip sends
/// by itself such as a session-timer refresh). None may block.
/// </para>
/// </summary>
public abstract class SessionExtension
{
    protected SessionExtension(string name, int priority = 0, params string[] methods)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Priority = priority;
        Methods = methods ?? [];
    }

    public string Name { get; }

    public int Priority { get; }

    /// <summary>The methods this extension is called for; empty means all.</summary>
    public IReadOnlyList<string> Methods { get; }

    internal bool Wants(ReadOnlySpan<char> method)
    {
        if (Methods.Count == 0)
            return true;
        foreach (var wanted in Methods)
        {
            if (method.Equals(wanted, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    /// <summary>Before pjsip's INVITE session exists (incoming or outgoing): choose the pjsip features it uses.</summary>
    public virtual void OnSessionCreating(SessionSetup setup)
    {
    }

    /// <summary>
    /// An incoming request. Return false to reject it; the extension must then have answered it
    /// with <see cref="SipSession.Reject(SipRequest, int, string?)"/>, and no later extension,
    /// SDP handler or application sees it.
    /// </summary>
    public virtual bool OnIncomingRequest(SipSession session, SipRequest request) => true;

    /// <summary>An incoming response to a request the session sent.</summary>
    public virtual void OnIncomingResponse(SipSession session, SipResponse response)
    {
    }

    /// <summary>A request the session is about to send (headers may be added).</summary>
    public virtual void OnOutgoingRequest(SipSession session, SipOutgoingMessage request)
    {
    }

    /// <summary>A response the session is about to send (headers may be added).</summary>
    public virtual void OnOutgoingResponse(SipSession session, SipOutgoingMessage response)
    {
    }

    public override string ToString() => Name;
}
