using Microsoft.Extensions.Logging;
using PjSharp.Transports;

namespace PjSharp;

/// <summary>How a <see cref="SipEndpoint"/> is set up.</summary>
public sealed class SipEndpointOptions
{
    /// <summary>Name pjsip uses for the endpoint (it appears in logs and as the default host name).</summary>
    public string Name { get; set; } = "pjsharp";

    /// <summary>Threads polling pjsip's ioqueue and timers. Default: one per core.</summary>
    public int WorkerThreads { get; set; } = Environment.ProcessorCount;

    /// <summary>Transports started with the endpoint; more can be added with <see cref="SipEndpoint.AddTransport"/>.</summary>
    public IList<SipTransportOptions> Transports { get; } = new List<SipTransportOptions>();

    /// <summary>pjlib's own log level (0 none .. 6 most); lines go to ILogger under "PjSharp.Native".</summary>
    public int NativeLogLevel { get; set; } = 3;

    /// <summary>Memory pjlib's caching pool keeps for reuse instead of freeing.</summary>
    public long PoolCacheBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Whether to answer malformed requests that pjsip would drop silently (RFC 3261 §8.2, §18.3).</summary>
    public bool AnswerMalformedRequests { get; set; } = true;

    /// <summary>What the build check does when the linked pjproject lacks a recommended setting.</summary>
    public LogLevel BuildWarningLevel { get; set; } = LogLevel.Warning;
}
