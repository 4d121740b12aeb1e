namespace PjSharp.Sessions;

/// <summary>An application that takes a call: answer it, play to it, hang it up. The token fires when the call ends.</summary>
public delegate Task SessionHandler(SipSession session, CancellationToken ended);

/// <summary>
/// Chooses the application for an incoming call by the user part of its request URI
/// (<c>sip:echo@host</c> goes to the handler mapped as <c>echo</c>), then by the fallback.
/// Unknown targets are answered 404.
/// </summary>
public sealed class SessionRouter
{
    private volatile Dictionary<string, SessionHandler> _routes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Calls to <paramref name="target"/> (the request URI's user part) go to <paramref name="handler"/>.</summary>
    public SessionRouter MapInvite(string target, SessionHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
            _routes = new Dictionary<string, SessionHandler>(_routes, StringComparer.Ordinal) { [target] = handler };
        return this;
    }

    /// <summary>Removes a route; true when it existed.</summary>
    public bool Unmap(string target)
    {
        lock (_gate)
        {
            if (!_routes.ContainsKey(target))
                return false;
            var copy = new Dictionary<string, SessionHandler>(_routes, StringComparer.Ordinal);
            copy.Remove(target);
            _routes = copy;
            return true;
        }
    }

    /// <summary>
    /// Calls that no route takes. The function returns the handler, or null for 404; it runs on the
    /// session's servant and must not block (a dial plan that needs I/O does it in the handler).
    /// </summary>
    public Func<SipSession, SessionHandler?>? Fallback { get; set; }

    public IReadOnlyCollection<string> Targets => _routes.Keys;

    internal SessionHandler? Find(SipSession session)
    {
        if (_routes.TryGetValue(session.Target, out var handler))
            return handler;
        return Fallback?.Invoke(session);
    }
}
