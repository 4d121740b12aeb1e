using System.Globalization;
using System.Text;
using PjSharp.Interop;

namespace PjSharp.Media;

/// <summary>Between pjmedia's SDP structures and the handlers' <see cref="SdpMediaDescription"/>.</summary>
internal static unsafe class SdpNative
{
    public static List<SdpMediaDescription> Read(pjmedia_sdp_session* sdp)
    {
        var streams = new List<SdpMediaDescription>((int)sdp->media_count);
        var sessionAddress = sdp->conn == null ? null : PjStr.ToManagedString(sdp->conn->addr);
        for (var i = 0; i < sdp->media_count; i++)
        {
            var media = (pjmedia_sdp_media*)sdp->media[i];
            var stream = new SdpMediaDescription
            {
                Media = PjStr.ToManagedString(media->desc.media),
                Index = i,
                Port = media->desc.port,
                Transport = PjStr.ToManagedString(media->desc.transport),
                ConnectionAddress = media->conn == null ? sessionAddress : PjStr.ToManagedString(media->conn->addr),
            };
            for (var f = 0; f < media->desc.fmt_count; f++)
                stream.Formats.Add(PjStr.ToManagedString(media->desc.fmt[f]));
            for (var a = 0; a < media->attr_count; a++)
            {
                var attribute = (pjmedia_sdp_attr*)media->attr[a];
                stream.Attributes.Add(new SdpAttributeLine(PjStr.ToManagedString(attribute->name),
                    attribute->value.slen > 0 ? PjStr.ToManagedString(attribute->value) : null));
            }
            streams.Add(stream);
        }
        return streams;
    }

    public static string Write(string address, ulong sessionId, ulong version, IEnumerable<SdpMediaDescription> streams)
    {
        var ip = address.Contains(':', StringComparison.Ordinal) ? "IP6" : "IP4";
        var text = new StringBuilder(512);
        text.Append("v=0\r\n");
        text.Append(CultureInfo.InvariantCulture, $"o=- {sessionId} {version} IN {ip} {address}\r\n");
        text.Append("s=pjsharp\r\n");
        text.Append(CultureInfo.InvariantCulture, $"c=IN {ip} {address}\r\n");
        text.Append("t=0 0\r\n");
        foreach (var stream in streams)
            stream.AppendTo(text, address);
        return text.ToString();
    }

    /// <summary>Parses <paramref name="text"/> into <paramref name="pool"/>; the text is copied there too, since pjmedia keeps pointers into it.</summary>
    public static pjmedia_sdp_session* Parse(pj_pool_t* pool, string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var buffer = (byte*)PjPool.pj_pool_alloc(pool, (nuint)length + 1);
        if (buffer == null)
            throw new PjSipException("Out of pool memory for an SDP body.");
        Encoding.UTF8.GetBytes(text, new Span<byte>(buffer, length));
        buffer[length] = 0;
        pjmedia_sdp_session* sdp;
        ThrowHelper.ThrowIfFailed(PjmediaSdp.pjmedia_sdp_parse(pool, buffer, (nuint)length, &sdp), "pjmedia_sdp_parse");
        return sdp;
    }

    /// <summary>The session description as text.</summary>
    public static string Print(pjmedia_sdp_session* sdp)
    {
        var buffer = new byte[8192];
        fixed (byte* pointer = buffer)
        {
            var length = PjmediaSdp.pjmedia_sdp_print(sdp, pointer, (nuint)buffer.Length);
            if (length <= 0)
                throw new PjSipException("The SDP does not fit in 8 KB.");
            return Encoding.UTF8.GetString(buffer, 0, length);
        }
    }

    /// <summary>
    /// Adds the feedback profile (RFC 4585) to the transport of the stream at <paramref name="index"/>:
    /// RTP/AVP becomes RTP/AVPF, UDP/TLS/RTP/SAVP (as pjmedia's DTLS writes it) UDP/TLS/RTP/SAVPF.
    /// </summary>
    public static void UseFeedbackProfile(pj_pool_t* pool, pjmedia_sdp_session* sdp, int index)
    {
        if (index >= sdp->media_count)
            return;
        var media = (pjmedia_sdp_media*)sdp->media[index];
        var transport = PjStr.ToManagedString(media->desc.transport);
        if (!transport.EndsWith("AVP", StringComparison.Ordinal))
            return;
        var bytes = Encoding.ASCII.GetBytes(transport + "F");
        var buffer = (byte*)PjPool.pj_pool_alloc(pool, (nuint)bytes.Length);
        if (buffer == null)
            throw new PjSipException("Out of pool memory for an SDP transport.");
        bytes.CopyTo(new Span<byte>(buffer, bytes.Length));
        media->desc.transport = PjStr.FromPointer(buffer, bytes.Length);
    }
}
