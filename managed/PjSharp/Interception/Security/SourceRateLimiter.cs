using System.Numerics;
using System.Security.Cryptography;

namespace PjSharp.Interception.Security;

/// <summary>
/// Flood protection: counts events per source address (failed authentications, requests from
/// nobody we know) in a fixed window, and blocks a source that goes over the limit for a while.
/// Use one limiter per kind of event.
/// </summary>
/// <remarks>
/// Fixed memory: a set-associative table of <see cref="Capacity"/> entries, hashed with a secret
/// seed so that nobody can aim addresses at one bucket. A new source takes a free or expired
/// entry, else the least recently seen unblocked one; blocked sources are evicted last. An
/// attack from many addresses therefore churns the table without growing it, and loses counts
/// of quiet sources before blocks. Striped locks held for a few instructions; nothing allocates
/// per call.
/// </remarks>
internal sealed class SourceRateLimiter
{
    public const int DefaultCapacity = 65_536;

    private const int Ways = 8;
    private const int MaxStripes = 1024;

    private readonly Entry[] _entries;
    private readonly Lock[] _stripes;
    private readonly int _bucketMask;
    private readonly ulong _seed;
    private readonly int _maxEvents;
    private readonly long _windowMs;
    private readonly long _blockMs;
    private readonly int _ipv6PrefixLength;

    /// <param name="maxEvents">Events a source may cause per window; one more blocks it.</param>
    /// <param name="window">The counting window.</param>
    /// <param name="blockFor">How long a source over the limit stays blocked.</param>
    /// <param name="capacity">Sources tracked at once (rounded up to a power of two).</param>
    /// <param name="ipv6PrefixLength">IPv6 sources are counted per prefix of this length (64: per subscriber).</param>
    public SourceRateLimiter(int maxEvents, TimeSpan window, TimeSpan blockFor, int capacity = DefaultCapacity, int ipv6PrefixLength = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(blockFor, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 26);
        ArgumentOutOfRangeException.ThrowIfLessThan(ipv6PrefixLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ipv6PrefixLength, 128);
        _maxEvents = maxEvents;
        _windowMs = (long)window.TotalMilliseconds;
        _blockMs = (long)blockFor.TotalMilliseconds;
        _ipv6PrefixLength = ipv6PrefixLength;

        var buckets = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, (capacity + Ways - 1) / Ways));
        _entries = new Entry[buckets * Ways];
        _bucketMask = buckets - 1;
        _stripes = new Lock[Math.Min(buckets, MaxStripes)];
        for (var i = 0; i < _stripes.Length; i++)
            _stripes[i] = new Lock();
        _seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    }

    /// <summary>Sources the table can hold.</summary>
    public int Capacity => _entries.Length;

    /// <summary>Counts one event from <paramref name="source"/>; true when the source is over its limit (blocked).</summary>
    public bool Record(SourceAddress source, long nowMs)
    {
        var key = source.WithIPv6Prefix(_ipv6PrefixLength);
        var bucket = Bucket(key);
        lock (_stripes[bucket % _stripes.Length])
        {
            ref var entry = ref FindOrClaim(bucket, key, nowMs);
            entry.LastSeenMs = nowMs;
            if (entry.BlockedUntilMs > nowMs)
                return true;
            if (nowMs - entry.WindowStartMs >= _windowMs)
            {
                entry.WindowStartMs = nowMs;
                entry.Count = 0;
            }
            if (++entry.Count <= _maxEvents)
                return false;
            entry.BlockedUntilMs = nowMs + _blockMs;
            entry.WindowStartMs = nowMs;
            entry.Count = 0;
            return true;
        }
    }

    /// <summary>Whether <paramref name="source"/> is blocked now, without counting an event.</summary>
    public bool IsBlocked(SourceAddress source, long nowMs)
    {
        var key = source.WithIPv6Prefix(_ipv6PrefixLength);
        var bucket = Bucket(key);
        lock (_stripes[bucket % _stripes.Length])
        {
            foreach (ref var entry in _entries.AsSpan(bucket * Ways, Ways))
            {
                if (entry.InUse && entry.Key == key)
                    return entry.BlockedUntilMs > nowMs;
            }
            return false;
        }
    }

    /// <summary>Sources with a live count or block (for metrics and tests; walks the whole table).</summary>
    public int CountActive(long nowMs)
    {
        var active = 0;
        for (var bucket = 0; bucket <= _bucketMask; bucket++)
        {
            lock (_stripes[bucket % _stripes.Length])
            {
                foreach (ref var entry in _entries.AsSpan(bucket * Ways, Ways))
                {
                    if (entry.InUse && !IsExpired(entry, nowMs))
                        active++;
                }
            }
        }
        return active;
    }

    /// <summary>Sources blocked now, with when each block ends (walks the whole table).</summary>
    public List<(SourceAddress Source, long BlockedUntilMs)> Blocked(long nowMs)
    {
        var blocked = new List<(SourceAddress, long)>();
        for (var bucket = 0; bucket <= _bucketMask; bucket++)
        {
            lock (_stripes[bucket % _stripes.Length])
            {
                foreach (ref var entry in _entries.AsSpan(bucket * Ways, Ways))
                {
                    if (entry.InUse && entry.BlockedUntilMs > nowMs)
                        blocked.Add((entry.Key, entry.BlockedUntilMs));
                }
            }
        }
        return blocked;
    }

    private int Bucket(SourceAddress key) => key.Hash(_seed) & _bucketMask;

    private bool IsExpired(in Entry entry, long nowMs) => entry.BlockedUntilMs <= nowMs && nowMs - entry.WindowStartMs >= _windowMs;

    private ref Entry FindOrClaim(int bucket, SourceAddress key, long nowMs)
    {
        var entries = _entries.AsSpan(bucket * Ways, Ways);
        var victim = 0;
        var victimRank = long.MaxValue;
        for (var i = 0; i < Ways; i++)
        {
            ref var entry = ref entries[i];
            if (entry.InUse && entry.Key == key)
                return ref entry;
            // Lower rank goes first: free, expired, least recently seen, then the block ending soonest.
            var rank = !entry.InUse ? long.MinValue
                : IsExpired(entry, nowMs) ? long.MinValue + 1
                : entry.BlockedUntilMs <= nowMs ? Math.Min(entry.LastSeenMs, long.MaxValue / 2)
                : (long.MaxValue / 2) + Math.Max(0, Math.Min(entry.BlockedUntilMs - nowMs, long.MaxValue / 2));
            if (rank < victimRank)
            {
                victim = i;
                victimRank = rank;
            }
        }
        ref var claimed = ref entries[victim];
        claimed = new Entry { InUse = true, Key = key, WindowStartMs = nowMs, LastSeenMs = nowMs, BlockedUntilMs = long.MinValue };
        return ref claimed;
    }

    private struct Entry
    {
        public SourceAddress Key;
        public long WindowStartMs;
        public long LastSeenMs;
        public long BlockedUntilMs;
        public int Count;
        public bool InUse;
    }
}
