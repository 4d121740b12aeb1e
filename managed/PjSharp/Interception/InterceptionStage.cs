namespace PjSharp.Interception;

/// <summary>What a stage decided about a request.</summary>
public enum InterceptionVerdict
{
    /// <summary>Let the next stage, then the services, see the request.</summary>
    Continue,

    /// <summary>The stage answered the request or dropped it; nothing after it sees it.</summary>
    Stop,
}

/// <summary>
/// Where the built-in stages run; user stages pick a number between them. Lower runs first,
/// like pjsip module priorities. (The SIP trace is not a stage: it sits below the transport
/// layer, so it also sees what the stages drop.)
/// </summary>
public static class InterceptionOrder
{
    public const int Overload = 100;
    public const int Acl = 200;
    public const int FloodProtection = 300;
    public const int Identify = 400;
    public const int Authenticate = 500;
}

/// <summary>
/// One step of message interception: runs inline on the pjsip worker thread for every
/// incoming request, before the transaction layer, in <see cref="Order"/>. A stage must not
/// block or do I/O, and should not allocate on its common path. A stage that throws gets the
/// request answered with 500 and the exception logged.
/// </summary>
public abstract class InterceptionStage
{
    protected InterceptionStage(string name, int order)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Order = order;
    }

    public string Name { get; }

    public int Order { get; }

    public abstract InterceptionVerdict OnRequest(ref InterceptionContext context);
}
