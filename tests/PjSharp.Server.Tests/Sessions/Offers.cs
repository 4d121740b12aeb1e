namespace PjSharp.Server.Tests.Sessions;

/// <summary>SDP media sections for call-custom-uac.xml's @MEDIA@ (SIPp strips each line's indentation).</summary>
internal static class Offers
{
    public static string PcmuPcma { get; } = Lines(
        "m=audio [media_port] RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=sendrecv");

    public static string G722Pcmu { get; } = Lines(
        "m=audio [media_port] RTP/AVP 9 0 101",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=sendrecv");

    /// <summary>Audio, then VP8 video on the next even port.</summary>
    public static string AudioAndVideo { get; } = Lines(
        PcmuPcma,
        "m=video [media_port+2] RTP/AVP 96",
        "a=rtpmap:96 VP8/90000",
        "a=sendrecv");

    /// <summary>The answer's audio line has exactly these formats (payload types, space-separated) on a non-zero port.</summary>
    public static string AudioAnswer(string formats) => $"m=audio [1-9][0-9]* RTP/AVP {formats}[^0-9 ]";

    private static string Lines(params string[] lines) => string.Join("\n      ", lines);
}
