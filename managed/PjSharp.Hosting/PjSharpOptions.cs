namespace PjSharp.Hosting;

/// <summary>
/// What <c>AddPjSharp</c> runs, bound from the configuration section <c>PjSharp</c> (or set in
/// code). Checked when the host starts: a bad value stops it with a message naming the key.
/// </summary>
public sealed class PjSharpOptions
{
    public const string SectionName = "PjSharp";

    /// <summary>
    /// Transports as <c>udp|tcp|tls|ws|wss:&lt;address&gt;:&lt;port&gt;</c>. Empty: the <c>transport</c>
    /// objects of the configuration file, else <c>udp:127.0.0.1:5060</c>.
    /// </summary>
    public List<string> Transports { get; } = [];

    /// <summary>pjsip worker threads; 0 means one per processor.</summary>
    public int WorkerThreads { get; set; }

    /// <summary>An Asterisk-syntax pjsip.conf with endpoints, auths, aors, identify, acl, global and transports.</summary>
    public string? ConfigFile { get; set; }

    /// <summary>The SQLite database for contacts and other dynamic objects (those not kept in <see cref="PostgreSql"/>).</summary>
    public string Database { get; set; } = "pjsharp.db";

    /// <summary>
    /// This node's name: stored with each binding it registers (<c>reg_server</c>), so it qualifies its own, and the
    /// holder of the leases nodes sharing a database take turns on. Unique per node; default: the machine name.
    /// </summary>
    public string NodeName { get; set; } = Environment.MachineName;

    /// <summary>A PostgreSQL database several nodes share (<c>PjSharp:PostgreSql</c>); without a connection string, SQLite only.</summary>
    public PjSharpPostgreSqlOptions PostgreSql { get; set; } = new();

    /// <summary>How long shutdown waits for queued work (registrations being written) before stopping pjsip.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Run the registrar (REGISTER).</summary>
    public bool Registrar { get; set; } = true;

    /// <summary>Qualify contacts whose AOR has a <c>qualify_frequency</c> (OPTIONS), leaving out unreachable ones.</summary>
    public bool Qualify { get; set; } = true;

    /// <summary>Relay out-of-dialog MESSAGE requests to the contacts of the AOR they name.</summary>
    public bool Messaging { get; set; } = true;

    /// <summary>The largest MESSAGE body relayed, in bytes.</summary>
    public int MessageMaxBodyBytes { get; set; } = 16 * 1024;

    /// <summary>Answer out-of-dialog OPTIONS with 200 and other unhandled requests with 501.</summary>
    public bool AnswerOptions { get; set; } = true;

    /// <summary>pjlib's own log level, 0 (none) to 6.</summary>
    public int NativeLogLevel { get; set; } = 2;

    /// <summary>Memory pjsip may keep in released pools, in MiB.</summary>
    public int PoolCacheMegabytes { get; set; } = 32;

    /// <summary>
    /// pjsip pools in use (transactions, dialogs, messages in flight) at which new requests outside
    /// dialogs are answered 503 before a transaction is made for them; 0 derives it from the memory
    /// available to the process (half of it at 16 KiB a pool).
    /// </summary>
    public long MaxPools { get; set; }

    /// <summary>The Retry-After of that 503, in seconds.</summary>
    public int OverloadRetryAfterSeconds { get; set; } = 5;

    /// <summary>
    /// glibc malloc arenas for the whole process (0 leaves glibc's eight per core). Two keep a
    /// busy server's resident size level; <c>MALLOC_ARENA_MAX</c> in the environment wins.
    /// </summary>
    public int MallocArenas { get; set; } = 2;

    public string? TlsCertificateFile { get; set; }

    public string? TlsPrivateKeyFile { get; set; }

    public string? TlsCaListFile { get; set; }

    public bool TlsVerifyClient { get; set; }

    /// <summary>Digest authentication and flood protection.</summary>
    public PjSharpSecurityOptions Security { get; set; } = new();

    /// <summary>The SIP trace (switchable at run time through <see cref="PjSharpServer.Trace"/>).</summary>
    public PjSharpTraceOptions Trace { get; set; } = new();

    /// <summary>The local admin endpoint <c>pjsharp show --server</c> and <c>pjsharp trace</c> talk to (<c>PjSharp:Admin</c>).</summary>
    public PjSharpAdminOptions Admin { get; set; } = new();

    /// <summary>Calls: the session service and its built-in applications.</summary>
    public PjSharpSessionOptions Sessions { get; set; } = new();

    /// <summary>SIP over WebSocket (<c>ws</c> and <c>wss</c> transports).</summary>
    public PjSharpWebSocketOptions WebSocket { get; set; } = new();
}

/// <summary>
/// A PostgreSQL database shared by the nodes behind a load balancer (<c>PjSharp:PostgreSql</c>). The types listed live
/// there; each write is announced to the other nodes (LISTEN/NOTIFY), whose caches drop the object at once.
/// </summary>
public sealed class PjSharpPostgreSqlOptions
{
    /// <summary>Npgsql connection string, e.g. <c>Host=127.0.0.13;Username=pjsharp;Password=...;Database=pjsharp</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The schema of PjSharp's tables (created when missing); installations sharing a server use different ones.</summary>
    public string Schema { get; set; } = "public";

    /// <summary>
    /// The object types kept there: <c>contact</c> when empty; add <c>endpoint</c>, <c>auth</c>, <c>aor</c> and others to
    /// manage them in the database (read after the configuration file, which wins for ids defined in both).
    /// </summary>
    public List<string> Types { get; } = [];

    /// <summary>How long start waits for the database to answer (it may be starting too) before giving up.</summary>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The types in effect.</summary>
    internal IReadOnlyList<string> EffectiveTypes => Types.Count > 0 ? Types : ["contact"];
}

/// <summary>The WebSocket listener of <c>ws</c> and <c>wss</c> transports (<c>PjSharp:WebSocket</c>).</summary>
public sealed class PjSharpWebSocketOptions
{
    /// <summary>The HTTP path that accepts upgrades with the <c>sip</c> subprotocol.</summary>
    public string Path { get; set; } = "/ws";

    /// <summary>Open connections at most; more are refused with 503.</summary>
    public int MaxConnections { get; set; } = 10000;

    /// <summary>Open connections from one address at most; more are refused with 503.</summary>
    public int MaxConnectionsPerAddress { get; set; } = 100;

    /// <summary>The largest frame (one SIP message) taken; a bigger one closes the connection with 1009. At most 16383.</summary>
    public int MaxFrameBytes { get; set; } = 16383;

    /// <summary>A connection that receives nothing for this long is closed (browsers refresh registrations well within it).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>WebSocket pings this often keep NATs open; zero sends none.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A send that takes longer closes the connection: a stalled peer never holds messages for long.</summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages waiting for one connection's socket at most; past it the send fails and the connection closes.</summary>
    public int SendQueueCapacity { get; set; } = 128;

    /// <summary>Origins allowed to connect (<c>https://example.com</c>); empty allows any. Others get 403 at the upgrade.</summary>
    public List<string> AllowedOrigins { get; } = [];
}

/// <summary>What the SIP trace records at start.</summary>
public sealed class PjSharpTraceOptions
{
    /// <summary>Log every message in and out (category <c>PjSharp.SipTrace</c>).</summary>
    public bool Enabled { get; set; }

    /// <summary>Also write traced messages to this pcap file (sngrep, tshark, Wireshark open it).</summary>
    public string? PcapFile { get; set; }

    /// <summary>Also send traced messages to this HEP collector, <c>host:port</c> over UDP (HEPv3: Homer, heplify-server).</summary>
    public string? HepAddress { get; set; }

    /// <summary>The capture agent id the HEP packets carry, telling this node apart at the collector.</summary>
    public uint HepCaptureId { get; set; }

    /// <summary>Only messages to or from these networks, e.g. <c>192.0.2.0/24</c>.</summary>
    public List<string> Addresses { get; } = [];

    /// <summary>Only messages of these endpoints.</summary>
    public List<string> Endpoints { get; } = [];
}

/// <summary>Security settings that are not part of pjsip.conf.</summary>
public sealed class PjSharpSecurityOptions
{
    /// <summary>Algorithms offered in challenges, strongest first: MD5, SHA-256, SHA-512-256.</summary>
    public List<string> DigestAlgorithms { get; } = [];

    /// <summary>Failed authentications from one address within <see cref="FloodWindow"/> before it is blocked.</summary>
    public int MaxFailedAuthentications { get; set; } = 20;

    /// <summary>Requests from unknown users from one address within <see cref="FloodWindow"/> before it is blocked.</summary>
    public int MaxUnidentifiedRequests { get; set; } = 50;

    public TimeSpan FloodWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a flooding address is refused.</summary>
    public TimeSpan BlockTime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Blocked addresses get 403 when true; by default they get no answer.</summary>
    public bool AnswerBlocked { get; set; }

    /// <summary>Methods answered without authentication (keep-alive probes).</summary>
    public List<string> UnauthenticatedMethods { get; } = [];

    /// <summary>
    /// The key digest nonces are signed with (at least 16 characters). Nodes behind one load balancer share it, so a
    /// challenge from one node can be answered to another; unset, each process picks a random one.
    /// </summary>
    public string? NonceSecret { get; set; }

    /// <summary>
    /// Proxies in front of the server (<c>192.0.2.10</c> or a network): never counted nor blocked by flood protection,
    /// since every user's requests come from their address. The proxy limits floods itself.
    /// </summary>
    public List<string> TrustedProxies { get; } = [];
}

/// <summary>Calls (<c>PjSharp:Sessions</c>).</summary>
public sealed class PjSharpSessionOptions
{
    /// <summary>Take calls at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The request-URI user that reaches the echo application; empty disables it.</summary>
    public string EchoTarget { get; set; } = "echo";

    /// <summary>The request-URI user that reaches the playback application; empty disables it.</summary>
    public string PlaybackTarget { get; set; } = "playback";

    /// <summary>The WAV file playback plays; default: the bundled samples/sounds/tone.wav.</summary>
    public string? PlaybackFile { get; set; }

    /// <summary>First RTP port (even).</summary>
    public int RtpPortStart { get; set; } = 10000;

    /// <summary>Last RTP port.</summary>
    public int RtpPortEnd { get; set; } = 20000;

    /// <summary>The address put in SDP; default: the address each INVITE arrived on.</summary>
    public string? MediaAddress { get; set; }

    /// <summary>Calls to an AOR (the request-URI user) ring its registered contacts and are bridged (the B2BUA).</summary>
    public bool Bridge { get; set; } = true;

    /// <summary>How long bridged calls ring before the caller gets 480.</summary>
    public TimeSpan RingTimeout { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>The local admin endpoint: a Unix domain socket only the server's user may open.</summary>
public sealed class PjSharpAdminOptions
{
    /// <summary>Open the endpoint (when the admin component is added, as <c>pjsharp serve</c> does).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The socket's path; default: beside <see cref="PjSharpOptions.Database"/>, with the extension <c>.sock</c>.</summary>
    public string? Socket { get; set; }

    /// <summary>Clients served at once; one more is told so and closed.</summary>
    public int MaxConnections { get; set; } = 16;

    /// <summary>Messages a slow <c>trace</c> client may have waiting before new ones are dropped (and counted).</summary>
    public int TraceBufferMessages { get; set; } = 2000;

    /// <summary>The default socket path for a server whose database is <paramref name="database"/>.</summary>
    public static string DefaultSocketFor(string database) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(database)) ?? ".", Path.GetFileNameWithoutExtension(database) + ".sock");
}
