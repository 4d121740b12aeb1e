using Microsoft.Extensions.Logging;

namespace PjSharp.Media;

/// <summary>Media log messages, with stable event ids (7201-7220).</summary>
internal static partial class MediaLog
{
    [LoggerMessage(EventId = 7201, Level = LogLevel.Debug, Message = "Call {CallId}: WebRTC media on {Address}:{Port} (ICE {Ice}, DTLS-SRTP {Dtls}, rtcp-mux {RtcpMux})")]
    public static partial void WebRtcTransportOpened(this ILogger logger, string callId, string address, int port, bool ice, bool dtls, bool rtcpMux);

    [LoggerMessage(EventId = 7202, Level = LogLevel.Debug, Message = "Call {CallId}: ICE negotiation completed")]
    public static partial void IceNegotiated(this ILogger logger, string callId);

    [LoggerMessage(EventId = 7203, Level = LogLevel.Warning, Message = "Call {CallId}: ICE {Stage} failed: {Reason}")]
    public static partial void IceFailed(this ILogger logger, string callId, string stage, string reason);

    [LoggerMessage(EventId = 7204, Level = LogLevel.Debug, Message = "Call {CallId}: DTLS-SRTP keys negotiated")]
    public static partial void DtlsNegotiated(this ILogger logger, string callId);

    [LoggerMessage(EventId = 7205, Level = LogLevel.Warning, Message = "Call {CallId}: DTLS-SRTP negotiation failed: {Reason}")]
    public static partial void DtlsFailed(this ILogger logger, string callId, string reason);

    [LoggerMessage(EventId = 7206, Level = LogLevel.Warning, Message = "Call {CallId}: the transport could not write its SDP attributes: {Reason}")]
    public static partial void TransportSdpFailed(this ILogger logger, string callId, string reason);
}
