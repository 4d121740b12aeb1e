using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Registrar;

/// <summary>
/// A phone over UDP on loopback that registers with digest authentication, computing the digest
/// itself (RFC 7616), so tests can change any part of what it sends.
/// </summary>
internal sealed partial class SipPhone : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _server;
    private readonly byte[] _buffer = new byte[65536];
    // Requests that arrived while the phone waited for a response, for ReceiveRequestAsync.
    private readonly Queue<(string Text, IPEndPoint From)> _requests = new();
    private int _cseq;

    public SipPhone(IPEndPoint server, string user, string password, IPAddress? local = null)
    {
        _server = server;
        User = user;
        Password = password;
        _socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(local ?? SipWire.LoopbackFor(server), 0));
        Local = (IPEndPoint)_socket.LocalEndPoint!;
        CallId = $"{Guid.NewGuid():N}@test";
    }

    public string User { get; }

    public string Password { get; set; }

    public IPEndPoint Local { get; }

    /// <summary>The phone keeps one Call-ID for its registrations, as RFC 3261 §10.2 asks.</summary>
    public string CallId { get; set; }

    public string ContactUri => $"sip:{User}@{SipRequestText.HostPort(Local)}";

    public string Algorithm { get; set; } = "MD5";

    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(5);

    /// <summary>A REGISTER with the next CSeq; <paramref name="headers"/> are added as given.</summary>
    public string Register(IEnumerable<string>? contacts = null, int? expires = 60, string? authorization = null, IEnumerable<string>? headers = null, int? cseq = null, string? branch = null)
    {
        var text = new StringBuilder();
        var serverHostPort = SipRequestText.HostPort(_server);
        text.Append(CultureInfo.InvariantCulture, $"REGISTER sip:{serverHostPort} SIP/2.0\r\n");
        text.Append(CultureInfo.InvariantCulture, $"Via: SIP/2.0/UDP {SipRequestText.HostPort(Local)};rport;branch={branch ?? "z9hG4bK" + Guid.NewGuid().ToString("N")}\r\n");
        text.Append("Max-Forwards: 70\r\n");
        text.Append(CultureInfo.InvariantCulture, $"From: <sip:{User}@{serverHostPort}>;tag={Guid.NewGuid():N}\r\n");
        text.Append(CultureInfo.InvariantCulture, $"To: <sip:{User}@{serverHostPort}>\r\n");
        text.Append(CultureInfo.InvariantCulture, $"Call-ID: {CallId}\r\n");
        text.Append(CultureInfo.InvariantCulture, $"CSeq: {cseq ?? ++_cseq} REGISTER\r\n");
        foreach (var contact in contacts ?? [$"<{ContactUri}>"])
            text.Append(CultureInfo.InvariantCulture, $"Contact: {contact}\r\n");
        if (expires is { } value)
            text.Append(CultureInfo.InvariantCulture, $"Expires: {value}\r\n");
        if (authorization != null)
            text.Append(CultureInfo.InvariantCulture, $"Authorization: {authorization}\r\n");
        foreach (var header in headers ?? [])
            text.Append(header).Append("\r\n");
        text.Append("User-Agent: PjSharp tests\r\nContent-Length: 0\r\n\r\n");
        return text.ToString();
    }

    /// <summary>Sends a request and returns the first response to it (by CSeq), or null after the timeout.</summary>
    public async Task<string?> SendAsync(string request, TimeSpan? timeout = null)
    {
        await _socket.SendToAsync(Encoding.UTF8.GetBytes(request), SocketFlags.None, _server);
        var cseq = CSeqLine().Match(request).Value;
        using var cancel = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveFromAsync(_buffer, SocketFlags.None, new IPEndPoint(SipWire.LoopbackFor(_server), 0), cancel.Token);
                var message = Encoding.UTF8.GetString(_buffer, 0, received.ReceivedBytes);
                if (!message.StartsWith("SIP/2.0 ", StringComparison.Ordinal))
                {
                    _requests.Enqueue((message, (IPEndPoint)received.RemoteEndPoint));
                    continue;
                }
                if (CSeqLine().Match(message).Value == cseq)
                    return message;
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>REGISTER, then again with credentials for the challenge; the final answer.</summary>
    public async Task<string?> RegisterAsync(IEnumerable<string>? contacts = null, int? expires = 60, IEnumerable<string>? headers = null)
    {
        var challenge = await SendAsync(Register(contacts, expires, headers: headers));
        if (SipWire.StatusOf(challenge) != 401)
            return challenge;
        return await SendAsync(Register(contacts, expires, Authorize(challenge!), headers));
    }

    /// <summary>The Authorization value answering the first challenge for <see cref="Algorithm"/> in <paramref name="challenge"/>.</summary>
    public string Authorize(string challenge, string method = "REGISTER", uint nc = 1, string? password = null, string? requestUri = null)
    {
        var offered = SipWire.HeaderValues(challenge, "WWW-Authenticate");
        var chosen = offered.FirstOrDefault(v => Parameter(v, "algorithm").Equals(Algorithm, StringComparison.OrdinalIgnoreCase))
            ?? throw new InvalidOperationException($"no {Algorithm} challenge in:\n{challenge}");
        var realm = Parameter(chosen, "realm");
        var nonce = Parameter(chosen, "nonce");
        var uri = requestUri ?? $"sip:{SipRequestText.HostPort(_server)}";
        var cnonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var ncText = nc.ToString("x8", CultureInfo.InvariantCulture);
        var ha1 = H($"{User}:{realm}:{password ?? Password}");
        var ha2 = H($"{method}:{uri}");
        var response = H($"{ha1}:{nonce}:{ncText}:{cnonce}:auth:{ha2}");
        return $"Digest username=\"{User}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", " +
            $"algorithm={Algorithm}, qop=auth, nc={ncText}, cnonce=\"{cnonce}\"";
    }

    public static string Parameter(string challenge, string name)
    {
        var match = Regex.Match(challenge, $@"(?:^|[\s,]){name}=(?:""([^""]*)""|([^,\s]+))", RegexOptions.IgnoreCase);
        return match.Success ? (match.Groups[1].Success ? match.Groups[1].Value : match.Groups[2].Value) : "";
    }

    private string H(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return Convert.ToHexStringLower(Algorithm.ToUpperInvariant() switch
        {
#pragma warning disable CA5351 // Digest MD5 is the protocol under test.
            "MD5" => MD5.HashData(bytes),
#pragma warning restore CA5351
            "SHA-256" => SHA256.HashData(bytes),
            _ => Sha512_256(bytes),
        });
    }

    // SHA-512/256 (FIPS 180-4), which .NET lacks: the library's implementation is checked against the FIPS vectors.
    private static byte[] Sha512_256(byte[] bytes)
    {
        var digest = new byte[32];
        PjSharp.Interception.Security.Sha512_256.HashData(bytes, digest);
        return digest;
    }

    /// <summary>The next request of <paramref name="method"/> sent to this phone (others are dropped); null after the timeout.</summary>
    public async Task<(string Text, IPEndPoint From)?> ReceiveRequestAsync(string method, TimeSpan? timeout = null)
    {
        while (_requests.TryDequeue(out var queued))
        {
            if (queued.Text.StartsWith(method + " ", StringComparison.Ordinal))
                return queued;
        }
        using var cancel = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveFromAsync(_buffer, SocketFlags.None, new IPEndPoint(SipWire.LoopbackFor(_server), 0), cancel.Token);
                var message = Encoding.UTF8.GetString(_buffer, 0, received.ReceivedBytes);
                if (message.StartsWith(method + " ", StringComparison.Ordinal))
                    return (message, (IPEndPoint)received.RemoteEndPoint);
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Answers <paramref name="request"/> with <paramref name="status"/>, sent back to where it came from.</summary>
    public async Task ReplyAsync((string Text, IPEndPoint From) request, int status = 200, string reason = "OK")
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"SIP/2.0 {status} {reason}\r\n");
        foreach (var (name, compact) in new[] { ("Via", "v"), ("From", "f"), ("To", "t"), ("Call-ID", "i"), ("CSeq", "CSeq") })
        {
            foreach (var value in SipWire.HeaderValues(request.Text, name, compact))
                text.Append(CultureInfo.InvariantCulture, $"{name}: {value}{(name == "To" && !value.Contains(";tag=", StringComparison.Ordinal) ? ";tag=" + Guid.NewGuid().ToString("N")[..8] : "")}\r\n");
        }
        text.Append("Content-Length: 0\r\n\r\n");
        await _socket.SendToAsync(Encoding.UTF8.GetBytes(text.ToString()), SocketFlags.None, request.From);
    }

    [GeneratedRegex(@"CSeq:\s*\d+\s+\w+", RegexOptions.IgnoreCase)]
    private static partial Regex CSeqLine();

    public void Dispose() => _socket.Dispose();
}
