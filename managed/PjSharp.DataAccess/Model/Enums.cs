namespace PjSharp.DataAccess;

/// <summary>How an endpoint sends and receives DTMF (<c>dtmf_mode</c>).</summary>
public enum DtmfMode
{
    /// <summary>RFC 4733 telephone-event packets (<c>rfc4733</c>).</summary>
    Rfc4733,
    /// <summary>Tones in the audio (<c>inband</c>).</summary>
    Inband,
    /// <summary>SIP INFO requests (<c>info</c>).</summary>
    Info,
    /// <summary>RFC 4733 when offered, else inband (<c>auto</c>).</summary>
    Auto,
    /// <summary>RFC 4733 when offered, else INFO (<c>auto_info</c>).</summary>
    AutoInfo,
    /// <summary>No DTMF (<c>none</c>).</summary>
    None,
}

/// <summary>Reliable provisional responses (<c>100rel</c>).</summary>
public enum Rel100Mode
{
    /// <summary>Not supported (<c>no</c>).</summary>
    No,
    /// <summary>Supported (<c>yes</c>).</summary>
    Yes,
    /// <summary>Used when the peer supports it (<c>peer_supported</c>).</summary>
    PeerSupported,
    /// <summary>Required (<c>required</c>).</summary>
    Required,
}

/// <summary>Session timers, RFC 4028 (<c>timers</c>).</summary>
public enum SessionTimersMode
{
    /// <summary>Not supported (<c>no</c>).</summary>
    No,
    /// <summary>Supported (<c>yes</c>).</summary>
    Yes,
    /// <summary>Required (<c>required</c>).</summary>
    Required,
    /// <summary>Always used, even when the peer does not support them (<c>always</c>, also <c>forced</c>).</summary>
    Always,
}

/// <summary>Media encryption (<c>media_encryption</c>).</summary>
public enum MediaEncryption
{
    /// <summary>Plain RTP (<c>no</c>).</summary>
    No,
    /// <summary>SRTP keyed by SDES (<c>sdes</c>).</summary>
    Sdes,
    /// <summary>DTLS-SRTP (<c>dtls</c>).</summary>
    Dtls,
}

/// <summary>A way to identify the endpoint of a request (<c>identify_by</c>).</summary>
public enum IdentifyMethod
{
    /// <summary>The user of the From header (<c>username</c>).</summary>
    Username,
    /// <summary>The username of the Authorization header (<c>auth_username</c>).</summary>
    AuthUsername,
    /// <summary>The source address, through identify objects (<c>ip</c>).</summary>
    Ip,
    /// <summary>A header, through identify objects (<c>header</c>).</summary>
    Header,
    /// <summary>The request URI, through identify objects (<c>request_uri</c>).</summary>
    RequestUri,
}

/// <summary>How an auth object holds its secret (<c>auth_type</c>).</summary>
public enum AuthType
{
    /// <summary>Plain password (<c>userpass</c>).</summary>
    UserPass,
    /// <summary>Pre-computed MD5 of user:realm:password (<c>md5</c>).</summary>
    Md5,
}

/// <summary>A transport's protocol (<c>protocol</c>).</summary>
public enum TransportProtocol
{
    /// <summary>UDP.</summary>
    Udp,
    /// <summary>TCP.</summary>
    Tcp,
    /// <summary>TLS over TCP.</summary>
    Tls,
    /// <summary>WebSocket (RFC 7118).</summary>
    WS,
    /// <summary>Secure WebSocket (RFC 7118).</summary>
    Wss,
}

/// <summary>A TLS method (<c>method</c>).</summary>
public enum TlsMethod
{
    /// <summary>The library's default (<c>default</c>, also empty).</summary>
    Default,
    /// <summary>Unspecified (<c>unspecified</c>).</summary>
    Unspecified,
    /// <summary>TLS 1.0 (<c>tlsv1</c>).</summary>
    Tls1,
    /// <summary>TLS 1.1 (<c>tlsv1_1</c>).</summary>
    Tls11,
    /// <summary>TLS 1.2 (<c>tlsv1_2</c>).</summary>
    Tls12,
    /// <summary>TLS 1.3 (<c>tlsv1_3</c>).</summary>
    Tls13,
    /// <summary>SSL 2 (<c>sslv2</c>).</summary>
    Ssl2,
    /// <summary>SSL 3 (<c>sslv3</c>).</summary>
    Ssl3,
    /// <summary>SSL 2/3 negotiation (<c>sslv23</c>).</summary>
    Ssl23,
}

/// <summary>What an ACL rule does with a matching address.</summary>
public enum AclAction
{
    /// <summary>Let it through (<c>permit</c>).</summary>
    Permit,
    /// <summary>Turn it away (<c>deny</c>).</summary>
    Deny,
}
