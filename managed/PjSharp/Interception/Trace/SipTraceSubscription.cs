using System.Net;
using System.Text;
using System.Threading.Channels;

namespace PjSharp.Interception.Trace;

/// <summary>One message a live trace saw, copied off the pjsip thread's buffer.</summary>
/// <param name="Time">When the trace saw it.</param>
/// <param name="Received">True for a message received, false for one sent.</param>
/// <param name="Transport">The transport name pjsip gives, e.g. <c>UDP</c>.</param>
/// <param name="Local">The server's address and port, e.g. <c>127.0.0.1:5060</c> or <c>[::1]:5060</c>.</param>
/// <param name="Remote">The peer's address and port.</param>
/// <param name="Bytes">The message as it is on the wire.</param>
public sealed record SipTraceMessage(DateTimeOffset Time, bool Received, string Transport, string Local, string Remote, byte[] Bytes)
{
    /// <summary>The message as text, line breaks kept, control characters and invalid bytes escaped.</summary>
    public string Text => SipTrace.Printable(Bytes);

    /// <summary>The request's method, or the method a response answers (its CSeq).</summary>
    public string Method => Encoding.ASCII.GetString(SipTrace.MethodOf(Bytes));
}

/// <summary>What a live trace keeps: every condition given must hold.</summary>
public sealed record SipTraceFilter
{
    /// <summary>Only messages to or from these networks (none: all).</summary>
    public IReadOnlyList<IPNetwork> Addresses { get; init; } = [];

    /// <summary>Only requests with this method and responses to it (null: all), matched case-sensitively as SIP does.</summary>
    public string? Method { get; init; }

    /// <summary>Only messages whose From or To user names one of these endpoints (none: all).</summary>
    public IReadOnlyList<string> Endpoints { get; init; } = [];
}

/// <summary>
/// A live feed from <see cref="SipTrace.Subscribe"/>: read <see cref="Messages"/> until it completes
/// (the trace was disposed) or dispose the subscription. A slow reader loses messages, never delays pjsip.
/// </summary>
public sealed class SipTraceSubscription : IDisposable
{
    private readonly SipTrace _trace;
    private readonly Channel<SipTraceMessage> _channel;
    private long _dropped;

    internal SipTraceSubscription(SipTrace trace, SipTraceFilter filter, int capacity)
    {
        _trace = trace;
        Filter = filter;
        MethodBytes = filter.Method is { } method ? Encoding.ASCII.GetBytes(method) : null;
        Endpoints = new HashSet<string>(filter.Endpoints, StringComparer.Ordinal);
        _channel = Channel.CreateBounded<SipTraceMessage>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public SipTraceFilter Filter { get; }

    internal byte[]? MethodBytes { get; }

    internal HashSet<string> Endpoints { get; }

    /// <summary>The messages, in the order the trace saw them.</summary>
    public ChannelReader<SipTraceMessage> Messages => _channel.Reader;

    /// <summary>Messages dropped because the reader was behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    internal bool Matches(SourceAddress remote)
    {
        var addresses = Filter.Addresses;
        if (addresses.Count == 0)
            return true;
        for (var i = 0; i < addresses.Count; i++)
        {
            if (remote.IsIn(addresses[i]))
                return true;
        }
        return false;
    }

    internal void Offer(SipTraceMessage message)
    {
        if (!_channel.Writer.TryWrite(message))
            Interlocked.Increment(ref _dropped);
    }

    internal void Complete() => _channel.Writer.TryComplete();

    public void Dispose()
    {
        _trace.Unsubscribe(this);
        Complete();
    }
}
