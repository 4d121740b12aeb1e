using PjSharp.Interception.Security;

namespace PjSharp.Interception;

/// <summary>Limits for <see cref="FloodProtection"/>.</summary>
public sealed class FloodProtectionOptions
{
    /// <summary>Failed authentications from one address within <see cref="Window"/> before it is blocked.</summary>
    public int MaxFailedAuthentications { get; set; } = 20;

    /// <summary>Requests for unknown users from one address within <see cref="Window"/> before it is blocked.</summary>
    public int MaxUnidentifiedRequests { get; set; } = 50;

    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan BlockTime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Answer a blocked address with 403 instead of silence.</summary>
    public bool AnswerBlocked { get; set; }

    /// <summary>
    /// Networks never counted nor blocked: proxies in front of the server (a load balancer's address carries every
    /// user's requests; it limits floods itself).
    /// </summary>
    public IList<System.Net.IPNetwork> Exempt { get; } = new List<System.Net.IPNetwork>();
}

/// <summary>
/// Per-source rate limits for what attackers do: guessing passwords and probing user names.
/// Over its limit an address (an IPv6 /64) is blocked for a while: its requests are dropped (or
/// answered 403) before identification, so other users keep registering. Fixed memory.
/// </summary>
public sealed class FloodProtection
{
    private readonly SourceRateLimiter _failures;
    private readonly SourceRateLimiter _unidentified;
    private readonly TimeProvider _time;
    private readonly (SourceAddress Network, int PrefixLength)[] _exempt;

    public FloodProtection(FloodProtectionOptions? options = null, TimeProvider? time = null)
    {
        Options = options ?? new FloodProtectionOptions();
        _time = time ?? TimeProvider.System;
        _failures = new SourceRateLimiter(Options.MaxFailedAuthentications, Options.Window, Options.BlockTime);
        _unidentified = new SourceRateLimiter(Options.MaxUnidentifiedRequests, Options.Window, Options.BlockTime);
        _exempt = [.. Options.Exempt.Select(n => (SourceAddress.FromIPAddress(n.BaseAddress),
            n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 96 + n.PrefixLength : n.PrefixLength))];
    }

    /// <summary>Whether <paramref name="source"/> is in an <see cref="FloodProtectionOptions.Exempt"/> network.</summary>
    public bool IsExempt(SourceAddress source)
    {
        foreach (var (network, prefixLength) in _exempt)
        {
            if (source.SharesPrefix(network, prefixLength))
                return true;
        }
        return false;
    }

    public FloodProtectionOptions Options { get; }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    public bool IsBlocked(SourceAddress source)
    {
        if (_exempt.Length > 0 && IsExempt(source))
            return false;
        var now = Now;
        return _failures.IsBlocked(source, now) || _unidentified.IsBlocked(source, now);
    }

    /// <summary>The addresses (IPv6: /64 networks) blocked now, why, and until when; walks the tables, so not for the hot path.</summary>
    public IReadOnlyList<BlockedSource> Blocked()
    {
        var now = Now;
        var result = new List<BlockedSource>();
        foreach (var (source, until) in _failures.Blocked(now))
            result.Add(new BlockedSource(source, "failed authentications", DateTimeOffset.FromUnixTimeMilliseconds(until)));
        foreach (var (source, until) in _unidentified.Blocked(now))
            result.Add(new BlockedSource(source, "unidentified requests", DateTimeOffset.FromUnixTimeMilliseconds(until)));
        return result;
    }

    /// <summary>Counts a failed authentication; true when the address is now blocked.</summary>
    public bool RecordFailedAuthentication(SourceAddress source) =>
        (_exempt.Length == 0 || !IsExempt(source)) && _failures.Record(source, Now);

    /// <summary>Counts a request no endpoint claimed; true when the address is now blocked.</summary>
    public bool RecordUnidentified(SourceAddress source) =>
        (_exempt.Length == 0 || !IsExempt(source)) && _unidentified.Record(source, Now);
}

/// <summary>A source <see cref="FloodProtection"/> blocks: the address (or IPv6 network), the limit it went over, and when the block ends.</summary>
public sealed record BlockedSource(SourceAddress Source, string Reason, DateTimeOffset Until);
