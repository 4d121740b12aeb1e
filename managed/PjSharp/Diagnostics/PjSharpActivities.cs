using System.Diagnostics;

namespace PjSharp.Diagnostics;

/// <summary>
/// The one <see cref="ActivitySource"/> PjSharp traces through (name <c>PjSharp</c>): a span per
/// REGISTER the registrar answers and per INVITE session, continued from the request's
/// <c>traceparent</c> header when it carries one (W3C Trace Context).
/// </summary>
public static class PjSharpActivities
{
    /// <summary>The source's name: <c>PjSharp</c>.</summary>
    public const string SourceName = "PjSharp";

    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// A server span for <paramref name="request"/>, or null when nobody listens (the usual, free case).
    /// It is not made current on the calling (pjsip) thread: the servant that finishes the work does that.
    /// </summary>
    internal static Activity? StartServer(string name, SipRequest request, string? endpoint)
    {
        if (!Source.HasListeners())
            return null;
        return Start(name, ActivityKind.Server, ParentOf(request), request.MethodText, request.CallId, endpoint);
    }

    internal static Activity? Start(string name, ActivityKind kind, ActivityContext parent, string method, string callId, string? endpoint)
    {
        var previous = Activity.Current;
        var activity = Source.StartActivity(name, kind, parent);
        if (activity == null)
            return null;
        // Started on a pjsip thread whose next message has nothing to do with this one.
        Activity.Current = previous;
        if (activity.IsAllDataRequested)
        {
            activity.SetTag("sip.method", method);
            activity.SetTag("sip.call_id", callId);
            if (endpoint != null)
                activity.SetTag("pjsharp.endpoint", endpoint);
        }
        return activity;
    }

    /// <summary>The parent named by the request's <c>traceparent</c> (and <c>tracestate</c>); default when absent or invalid.</summary>
    internal static ActivityContext ParentOf(SipRequest request)
    {
        var traceParent = request.GetHeader("traceparent");
        if (traceParent == null)
            return default;
        return ActivityContext.TryParse(traceParent.Trim(), request.GetHeader("tracestate")?.Trim(), isRemote: true, out var context)
            ? context
            : default;
    }

    /// <summary>The W3C <c>traceparent</c> value naming <paramref name="context"/> as the parent; null when it names no trace.</summary>
    internal static string? TraceParentOf(ActivityContext context) =>
        context.TraceId == default || context.SpanId == default
            ? null
            : string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-{(byte)context.TraceFlags:x2}");

    /// <summary>Records the final status and ends the span; an error status for 5xx/6xx (and for failures, code 0).</summary>
    internal static void Stop(Activity? activity, int statusCode)
    {
        if (activity == null)
            return;
        if (activity.IsAllDataRequested)
            activity.SetTag("sip.status_code", statusCode);
        if (statusCode is 0 or >= 500)
            activity.SetStatus(ActivityStatusCode.Error);
        activity.Stop();
    }
}
