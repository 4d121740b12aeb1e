using PjSharp.Interop;

namespace PjSharp.Services;

/// <summary>
/// pjsip module priorities: lower runs first on incoming messages. A service's
/// priority places it among pjsip's own layers.
/// </summary>
public static class SipServicePriority
{
    public const int TransportLayer = 8;
    public const int TransactionLayer = 16;
    public const int UserAgentProxyLayer = 32;
    public const int DialogUsage = 48;
    public const int Application = 64;

    /// <summary>Where message interception runs: after the transport, before transactions.</summary>
    public const int Interception = TransactionLayer - 2;
}

/// <summary>
/// A service is a pjsip module with a name, a priority and managed callbacks. Callbacks run
/// on a pjsip worker thread and must not block: do what must happen there (answer, or create
/// the transaction and clone the request) and hand slow work to a servant.
/// An exception thrown by a callback is logged and the request answered with 500.
/// </summary>
public abstract class SipService
{
    protected SipService(string name, int priority)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Priority = priority;
    }

    public string Name { get; }

    public int Priority { get; }

    /// <summary>pjsip's id for this service's module while registered (its slot in per-module data), else -1.</summary>
    protected internal int ModuleId { get; internal set; } = -1;

    /// <summary>
    /// The methods this service answers (e.g. <c>REGISTER</c>); the endpoint advertises them in
    /// Allow (OPTIONS answers, 405s) while the service is registered.
    /// </summary>
    public virtual IReadOnlyCollection<string> Methods => [];

    /// <summary>An incoming request; return true when this service handled it (sent or will send the answer).</summary>
    public virtual bool OnRequest(SipRequest request) => false;

    /// <summary>An incoming response outside any transaction this service owns; true when handled.</summary>
    public virtual bool OnResponse(SipResponse response) => false;

    /// <summary>
    /// A message about to be sent. pjsip calls this from the highest priority number down, so a
    /// service below the transport layer (priority under 8) sees the printed bytes.
    /// </summary>
    public virtual void OnSending(SipOutgoingMessage message)
    {
    }

    /// <summary>pjsip's module for this service while registered.</summary>
    internal unsafe pjsip_module* NativeModule { get; set; }

    /// <summary>Called after the endpoint registered this service (outside the endpoint's lock): register companions here.</summary>
    protected internal virtual void OnRegistered(SipEndpoint endpoint)
    {
    }

    /// <summary>Called before the endpoint unregisters this service.</summary>
    protected internal virtual void OnUnregistering(SipEndpoint endpoint)
    {
    }

    /// <summary>Which callbacks pjsip should call: services that only look at requests cost nothing on responses.</summary>
    protected internal virtual bool HandlesResponses => false;

    /// <summary>Whether <see cref="OnSending"/> is called.</summary>
    protected internal virtual bool HandlesOutgoing => false;

    /// <summary>Whether <see cref="OnTransactionState"/> is called for the transactions this service created.</summary>
    internal virtual bool HandlesTransactionStates => false;

    /// <summary>A transaction this service owns changed state (on a pjsip thread, under the transaction's lock).</summary>
    internal virtual unsafe void OnTransactionState(pjsip_transaction* transaction, pjsip_event* e)
    {
    }
}
