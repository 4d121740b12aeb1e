using Microsoft.Extensions.Options;
using PjSharp.Transports;

namespace PjSharp.Hosting;

/// <summary>Checks <see cref="PjSharpOptions"/> at start; every problem names its configuration key.</summary>
internal sealed class PjSharpOptionsValidator : IValidateOptions<PjSharpOptions>
{
    private static readonly string[] KnownAlgorithms = ["MD5", "SHA-256", "SHA-512-256"];

    public ValidateOptionsResult Validate(string? name, PjSharpOptions options)
    {
        var problems = new List<string>();
        const string section = PjSharpOptions.SectionName;
        for (var i = 0; i < options.Transports.Count; i++)
        {
            try
            {
                _ = SipTransportOptions.Parse(options.Transports[i]);
            }
            catch (FormatException error)
            {
                problems.Add($"{section}:Transports:{i}: {error.Message}");
            }
        }
        if (options.WorkerThreads < 0)
            problems.Add($"{section}:WorkerThreads: must be 0 (one per processor) or more, not {options.WorkerThreads}.");
        if (options.ConfigFile is { } file && !File.Exists(file))
            problems.Add($"{section}:ConfigFile: '{file}' does not exist.");
        if (string.IsNullOrWhiteSpace(options.Database))
            problems.Add($"{section}:Database: a SQLite file name is required.");
        if (options.DrainTimeout < TimeSpan.Zero)
            problems.Add($"{section}:DrainTimeout: must not be negative.");
        if (options.NativeLogLevel is < 0 or > 6)
            problems.Add($"{section}:NativeLogLevel: must be 0 to 6, not {options.NativeLogLevel}.");
        if (options.MaxPools < 0)
            problems.Add($"{section}:MaxPools: must not be negative (0 derives it from the memory available).");
        if (options.OverloadRetryAfterSeconds < 0)
            problems.Add($"{section}:OverloadRetryAfterSeconds: must not be negative.");
        if (options.MallocArenas < 0)
            problems.Add($"{section}:MallocArenas: must not be negative (0 leaves glibc's default).");
        if (options.PoolCacheMegabytes < 0)
            problems.Add($"{section}:PoolCacheMegabytes: must not be negative.");
        var security = options.Security;
        for (var i = 0; i < security.DigestAlgorithms.Count; i++)
        {
            if (!KnownAlgorithms.Contains(security.DigestAlgorithms[i], StringComparer.OrdinalIgnoreCase))
                problems.Add($"{section}:Security:DigestAlgorithms:{i}: '{security.DigestAlgorithms[i]}' is not one of {string.Join(", ", KnownAlgorithms)}.");
        }
        if (security.NonceSecret is { } secret && System.Text.Encoding.UTF8.GetByteCount(secret) < 16)
            problems.Add($"{section}:Security:NonceSecret: must be at least 16 characters long.");
        for (var i = 0; i < security.TrustedProxies.Count; i++)
        {
            if (ParseNetwork(security.TrustedProxies[i]) == null)
                problems.Add($"{section}:Security:TrustedProxies:{i}: '{security.TrustedProxies[i]}' is not an address or a network such as 192.0.2.0/24.");
        }
        if (string.IsNullOrWhiteSpace(options.NodeName))
            problems.Add($"{section}:NodeName: must not be empty.");
        var postgres = options.PostgreSql;
        if (postgres.ConnectionString is { } connection)
        {
            if (string.IsNullOrWhiteSpace(connection))
                problems.Add($"{section}:PostgreSql:ConnectionString: is empty; remove it to keep everything in SQLite.");
            if (string.IsNullOrWhiteSpace(postgres.Schema))
                problems.Add($"{section}:PostgreSql:Schema: must not be empty.");
            for (var i = 0; i < postgres.Types.Count; i++)
            {
                if (DataAccess.ObjectTypes.Find(postgres.Types[i]) == null)
                    problems.Add($"{section}:PostgreSql:Types:{i}: '{postgres.Types[i]}' is not an object type ({string.Join(", ", DataAccess.ObjectTypes.All.Select(t => t.Name))}).");
            }
        }
        if (security.MaxFailedAuthentications < 1)
            problems.Add($"{section}:Security:MaxFailedAuthentications: must be at least 1.");
        if (security.MaxUnidentifiedRequests < 1)
            problems.Add($"{section}:Security:MaxUnidentifiedRequests: must be at least 1.");
        if (security.FloodWindow <= TimeSpan.Zero)
            problems.Add($"{section}:Security:FloodWindow: must be positive.");
        if (security.BlockTime < TimeSpan.Zero)
            problems.Add($"{section}:Security:BlockTime: must not be negative.");
        if (options.Admin.MaxConnections < 1)
            problems.Add($"{section}:Admin:MaxConnections: {options.Admin.MaxConnections} must be at least 1.");
        if (options.Admin.TraceBufferMessages < 1)
            problems.Add($"{section}:Admin:TraceBufferMessages: {options.Admin.TraceBufferMessages} must be at least 1.");
        if (options.Trace.HepAddress is { } hep && !IsHostAndPort(hep))
            problems.Add($"{section}:Trace:HepAddress: '{hep}' is not host:port, such as 127.0.0.1:9060.");
        for (var i = 0; i < options.Trace.Addresses.Count; i++)
        {
            if (!System.Net.IPNetwork.TryParse(options.Trace.Addresses[i], out _))
                problems.Add($"{section}:Trace:Addresses:{i}: '{options.Trace.Addresses[i]}' is not a network such as 192.0.2.0/24.");
        }
        var sessions = options.Sessions;
        if (sessions.RtpPortStart is < 1024 or > 65534)
            problems.Add($"{section}:Sessions:RtpPortStart: {sessions.RtpPortStart} is not a port from 1024 to 65534.");
        else if (sessions.RtpPortEnd < sessions.RtpPortStart + 2 || sessions.RtpPortEnd > 65535)
            problems.Add($"{section}:Sessions:RtpPortEnd: {sessions.RtpPortEnd} must leave room for an RTP and RTCP pair after RtpPortStart ({sessions.RtpPortStart}) and be at most 65535.");
        if (sessions.MediaAddress is { Length: > 0 } media && !System.Net.IPAddress.TryParse(media, out _))
            problems.Add($"{section}:Sessions:MediaAddress: '{media}' is not an IP address.");
        if (sessions.PlaybackFile is { Length: > 0 } playback && !File.Exists(playback))
            problems.Add($"{section}:Sessions:PlaybackFile: no file at '{playback}'.");
        if (sessions.RingTimeout <= TimeSpan.Zero)
            problems.Add($"{section}:Sessions:RingTimeout: {sessions.RingTimeout} must be positive.");
        var webSocket = options.WebSocket;
        if (string.IsNullOrEmpty(webSocket.Path) || webSocket.Path[0] != '/')
            problems.Add($"{section}:WebSocket:Path: '{webSocket.Path}' must start with '/'.");
        if (webSocket.MaxConnections < 1)
            problems.Add($"{section}:WebSocket:MaxConnections: must be at least 1.");
        if (webSocket.MaxConnectionsPerAddress < 1)
            problems.Add($"{section}:WebSocket:MaxConnectionsPerAddress: must be at least 1.");
        if (webSocket.MaxFrameBytes is < 64 or > Transports.WebSocket.WebSocketSipTransport.MaxMessageLength)
            problems.Add($"{section}:WebSocket:MaxFrameBytes: {webSocket.MaxFrameBytes} is not from 64 to {Transports.WebSocket.WebSocketSipTransport.MaxMessageLength}.");
        if (webSocket.IdleTimeout <= TimeSpan.Zero)
            problems.Add($"{section}:WebSocket:IdleTimeout: must be positive.");
        if (webSocket.KeepAliveInterval < TimeSpan.Zero)
            problems.Add($"{section}:WebSocket:KeepAliveInterval: must not be negative.");
        if (webSocket.WriteTimeout <= TimeSpan.Zero)
            problems.Add($"{section}:WebSocket:WriteTimeout: must be positive.");
        if (webSocket.SendQueueCapacity < 1)
            problems.Add($"{section}:WebSocket:SendQueueCapacity: must be at least 1.");
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>host:port with a port from 1 to 65535 (the host is resolved at start).</summary>
    internal static bool IsHostAndPort(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon > 0 && ushort.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port > 0;
    }

    /// <summary>An address (a one-address network) or a network in CIDR form; null when it is neither.</summary>
    internal static System.Net.IPNetwork? ParseNetwork(string text)
    {
        if (System.Net.IPNetwork.TryParse(text, out var network))
            return network;
        if (System.Net.IPAddress.TryParse(text, out var address))
            return new System.Net.IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        return null;
    }
}
