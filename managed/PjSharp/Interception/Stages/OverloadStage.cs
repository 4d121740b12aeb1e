using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using PjSharp.Messages;

namespace PjSharp.Interception.Stages;

/// <summary>
/// Admission control for the whole server: while pjsip holds <see cref="MaxPools"/> pools or more
/// (transactions, dialogs and messages not yet released), new requests outside dialogs are answered
/// 503 with Retry-After before any transaction is made for them. A starved or flooded server
/// otherwise keeps a pool for every retransmission and abandoned call until memory runs out.
/// Requests in dialogs, ACK and CANCEL pass, so calls in progress can finish and free what they hold.
/// Admission resumes below nine tenths of the limit.
/// </summary>
public sealed unsafe partial class OverloadStage : InterceptionStage
{
    /// <summary>Bytes of memory counted per pjsip pool when the limit is derived from the machine's memory.</summary>
    public const long PoolBytesEstimate = 16 * 1024;

    private static readonly KeyValuePair<string, string>[] s_noHeaders = [];
    private readonly SipEndpoint _endpoint;
    private readonly ILogger _logger;
    private readonly Counter<long>? _rejected;
    private readonly KeyValuePair<string, string>[] _retryAfter;
    private long _maxPools;
    private long _turnedAway;
    private int _overloaded;

    /// <param name="endpoint">Whose pools are counted.</param>
    /// <param name="maxPools">Pools in use at which admission stops.</param>
    /// <param name="retryAfterSeconds">The Retry-After of the 503 (0: none).</param>
    public OverloadStage(SipEndpoint endpoint, long maxPools, int retryAfterSeconds, ILogger logger, Meter? meter = null)
        : base("overload", InterceptionOrder.Overload)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPools);
        ArgumentOutOfRangeException.ThrowIfNegative(retryAfterSeconds);
        _endpoint = endpoint;
        _maxPools = maxPools;
        _logger = logger;
        _retryAfter = retryAfterSeconds > 0
            ? [new("Retry-After", retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture))]
            : s_noHeaders;
        _rejected = meter?.CreateCounter<long>("pjsharp.overload.rejected", "{request}", "Requests answered 503 because pjsip held too many pools");
    }

    /// <summary>Pools in use at which new requests are turned away; may be changed while the server runs.</summary>
    public long MaxPools
    {
        get => Volatile.Read(ref _maxPools);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            Volatile.Write(ref _maxPools, value);
        }
    }

    /// <summary>True while new requests are turned away.</summary>
    public bool IsOverloaded => Volatile.Read(ref _overloaded) != 0;

    /// <summary>A limit of half the memory available to the process, at <see cref="PoolBytesEstimate"/> a pool.</summary>
    public static long DefaultMaxPools()
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return Math.Max(10_000, available / 2 / PoolBytesEstimate);
    }

    public override InterceptionVerdict OnRequest(ref InterceptionContext context)
    {
        var pools = _endpoint.PoolsInUse;
        var limit = Volatile.Read(ref _maxPools);
        if (Volatile.Read(ref _overloaded) == 0)
        {
            if (pools < limit)
                return InterceptionVerdict.Continue;
            if (Interlocked.Exchange(ref _overloaded, 1) == 0)
                LogOverloaded(_logger, pools, limit);
        }
        else if (pools < limit - Math.Max(1, limit / 10))
        {
            if (Interlocked.Exchange(ref _overloaded, 0) != 0)
                LogRecovered(_logger, pools, Interlocked.Exchange(ref _turnedAway, 0));
            return InterceptionVerdict.Continue;
        }

        var request = context.Request;
        var method = request.Method;
        if (method == SipMethod.Ack || method == SipMethod.Cancel || request.IsInDialog)
            return InterceptionVerdict.Continue;
        Interlocked.Increment(ref _turnedAway);
        _rejected?.Add(1);
        StatelessResponse.Respond(context.SipEndpoint, request.Native, 503, _retryAfter);
        return InterceptionVerdict.Stop;
    }

    [LoggerMessage(EventId = 6020, Level = LogLevel.Warning, Message = "Overloaded: pjsip holds {Pools} pools (limit {MaxPools}); new requests outside dialogs get 503 until it holds fewer")]
    private static partial void LogOverloaded(ILogger logger, long pools, long maxPools);

    [LoggerMessage(EventId = 6021, Level = LogLevel.Information, Message = "No longer overloaded: pjsip holds {Pools} pools; {TurnedAway} requests were answered 503")]
    private static partial void LogRecovered(ILogger logger, long pools, long turnedAway);
}
