using System.Diagnostics.Metrics;
using System.Text;
using PjSharp.Services;

namespace PjSharp.Diagnostics;

/// <summary>
/// Counts every SIP message in and out at the transport (retransmissions included, before
/// interception drops anything), and observes pjsip's transactions and pool memory. Tags are
/// cached strings and boxed codes, so counting allocates nothing; with no listener it is one
/// <see cref="Instrument.Enabled"/> check per message.
/// </summary>
public sealed class SipMetrics : SipService
{
    /// <summary>The methods counted by name; any other is counted as <c>_OTHER</c> (OpenTelemetry's spelling).</summary>
    private static readonly string[] s_methods =
        ["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "SUBSCRIBE", "NOTIFY", "MESSAGE", "INFO", "UPDATE", "PRACK", "REFER", "PUBLISH"];

    private const string OtherMethod = "_OTHER";
    private const string Receive = "receive";
    private const string Transmit = "transmit";

    private static readonly object[] s_statusCodes = CreateStatusCodes();
    private static readonly object s_otherStatus = 0;

    private readonly SipEndpoint _endpoint;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _responses;
    private readonly Lock _gate = new();
    private bool _registered;

    public SipMetrics(SipEndpoint endpoint, Meter meter)
        : base("pjsharp-metrics", SipServicePriority.TransportLayer - 1)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(meter);
        _endpoint = endpoint;
        _requests = meter.CreateCounter<long>("pjsharp.sip.requests", "{request}",
            "SIP requests received and sent, by method and direction (retransmissions included)");
        _responses = meter.CreateCounter<long>("pjsharp.sip.responses", "{response}",
            "SIP responses received and sent, by method, status code and direction (retransmissions included)");
        meter.CreateObservableGauge("pjsharp.sip.transactions", () => Observe(static e => e.TransactionCount), "{transaction}",
            "SIP transactions in pjsip's transaction table");
        meter.CreateObservableGauge("pjsharp.pjsip.pool.used", () => Observe(static e => e.PoolMemory.UsedBytes), "By",
            "Bytes allocated from pjsip's pools in use");
        meter.CreateObservableGauge("pjsharp.pjsip.pool.capacity", () => Observe(static e => e.PoolMemory.CapacityBytes), "By",
            "Bytes pjsip's pools in use reserved from the system");
        meter.CreateObservableGauge("pjsharp.pjsip.pools", () => Observe(static e => e.PoolsInUse), "{pool}",
            "pjsip pools in use");
    }

    protected internal override bool HandlesResponses => true;

    protected internal override bool HandlesOutgoing => true;

    public override bool OnRequest(SipRequest request)
    {
        if (_requests.Enabled)
            _requests.Add(1, new("sip.method", MethodTag(request.MethodName)), new("network.io.direction", Receive));
        return false;
    }

    public override bool OnResponse(SipResponse response)
    {
        if (_responses.Enabled)
            CountResponse(response.CSeqMethodName, response.StatusCode, Receive);
        return false;
    }

    public override void OnSending(SipOutgoingMessage message)
    {
        if (message.IsRequest)
        {
            if (_requests.Enabled)
                _requests.Add(1, new("sip.method", MethodTag(message.MethodName)), new("network.io.direction", Transmit));
        }
        else if (_responses.Enabled)
        {
            CountResponse(message.MethodName, message.StatusCode, Transmit);
        }
    }

    private void CountResponse(ReadOnlySpan<byte> method, int statusCode, string direction) =>
        _responses.Add(1, new("sip.method", MethodTag(method)), new("sip.response.status_code", StatusTag(statusCode)),
            new("network.io.direction", direction));

    protected internal override void OnRegistered(SipEndpoint endpoint)
    {
        lock (_gate)
            _registered = true;
    }

    protected internal override void OnUnregistering(SipEndpoint endpoint)
    {
        // The gauges read pjsip: none may run once the endpoint starts going away.
        lock (_gate)
            _registered = false;
    }

    private IEnumerable<Measurement<long>> Observe(Func<SipEndpoint, long> read)
    {
        lock (_gate)
        {
            if (!_registered)
                return [];
            return [new Measurement<long>(read(_endpoint))];
        }
    }

    internal static string MethodTag(ReadOnlySpan<byte> name)
    {
        foreach (var method in s_methods)
        {
            if (name.Length == method.Length && Ascii.Equals(name, method))
                return method;
        }
        return OtherMethod;
    }

    internal static object StatusTag(int code) => code is >= 100 and <= 699 ? s_statusCodes[code - 100] : s_otherStatus;

    private static object[] CreateStatusCodes()
    {
        var codes = new object[600];
        for (var i = 0; i < codes.Length; i++)
            codes[i] = i + 100;
        return codes;
    }
}
