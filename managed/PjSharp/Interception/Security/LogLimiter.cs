using System.Numerics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace PjSharp.Interception.Security;

/// <summary>Lines a source could not log: report as "suppressed {Count} lines from {Source}".</summary>
internal readonly record struct SuppressedLines(SourceAddress Source, long Count);

/// <summary>
/// Keeps an attacker from flooding the log: at most a few lines per source per window (one
/// minute by default) and a ceiling for all sources together. What is held back is counted, and
/// the count is handed out once per window: with the source's next line that may be written
/// (<see cref="TryLog"/>'s <c>suppressedBefore</c>), or from <see cref="DrainSummaries"/>, which a
/// timer calls, for sources that went quiet. Fixed memory (entries evicted from the table hand
/// their counts to a total for "other sources"), thread-safe, allocation-free per call.
/// </summary>
internal sealed class LogLimiter
{
    public const int DefaultCapacity = 4096;

    private const int Ways = 4;
    private const int MaxStripes = 256;
    private const int GlobalCountBits = 24;
    private const long GlobalCountMask = (1L << GlobalCountBits) - 1;
    private const long GlobalWindowMask = (1L << (63 - GlobalCountBits)) - 1;

    private readonly Entry[] _entries;
    private readonly Lock[] _stripes;
    private readonly int _bucketMask;
    private readonly ulong _seed;
    private readonly int _linesPerSource;
    private readonly int _linesPerWindow;
    private readonly long _windowMs;
    private readonly int _ipv6PrefixLength;
    // The window number in the high bits, lines written in it in the low 24: one word, so one CAS.
    private long _global;
    private long _unattributed;

    /// <param name="linesPerSource">Lines each source may log per window.</param>
    /// <param name="linesPerWindow">Lines all sources together may log per window.</param>
    /// <param name="window">The window; one minute by default.</param>
    /// <param name="capacity">Sources tracked at once (rounded up to a power of two).</param>
    /// <param name="ipv6PrefixLength">IPv6 sources are counted per prefix of this length.</param>
    public LogLimiter(int linesPerSource = 5, int linesPerWindow = 1000, TimeSpan? window = null, int capacity = DefaultCapacity, int ipv6PrefixLength = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(linesPerSource, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(linesPerWindow, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(linesPerWindow, (int)GlobalCountMask);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 24);
        ArgumentOutOfRangeException.ThrowIfLessThan(ipv6PrefixLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ipv6PrefixLength, 128);
        _windowMs = (long)(window ?? TimeSpan.FromMinutes(1)).TotalMilliseconds;
        ArgumentOutOfRangeException.ThrowIfLessThan(_windowMs, 1, nameof(window));
        _linesPerSource = linesPerSource;
        _linesPerWindow = linesPerWindow;
        _ipv6PrefixLength = ipv6PrefixLength;

        var buckets = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, (capacity + Ways - 1) / Ways));
        _entries = new Entry[buckets * Ways];
        _bucketMask = buckets - 1;
        _stripes = new Lock[Math.Min(buckets, MaxStripes)];
        for (var i = 0; i < _stripes.Length; i++)
            _stripes[i] = new Lock();
        _seed = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
    }

    /// <summary>
    /// Whether a line about <paramref name="source"/> may be written now. When it may and
    /// <paramref name="suppressedBefore"/> is above zero, write the summary first.
    /// </summary>
    public bool TryLog(SourceAddress source, long nowMs, out long suppressedBefore)
    {
        suppressedBefore = 0;
        var key = source.WithIPv6Prefix(_ipv6PrefixLength);
        var bucket = key.Hash(_seed) & _bucketMask;
        lock (_stripes[bucket % _stripes.Length])
        {
            ref var entry = ref FindOrClaim(bucket, key, nowMs);
            entry.LastSeenMs = nowMs;
            if (nowMs - entry.WindowStartMs >= _windowMs)
            {
                entry.WindowStartMs = nowMs;
                entry.Written = 0;
            }
            if (entry.Written >= _linesPerSource || !TakeGlobal(nowMs))
            {
                entry.Suppressed++;
                return false;
            }
            entry.Written++;
            suppressedBefore = entry.Suppressed;
            entry.Suppressed = 0;
            return true;
        }
    }

    /// <summary>
    /// Hands out the counts of sources whose window ended with lines held back (and resets
    /// them); returns how many were written to <paramref name="destination"/>. Counts of
    /// sources evicted from the table come back in <paramref name="otherSources"/>.
    /// </summary>
    public int DrainSummaries(long nowMs, Span<SuppressedLines> destination, out long otherSources)
    {
        otherSources = Interlocked.Exchange(ref _unattributed, 0);
        var written = 0;
        for (var bucket = 0; bucket <= _bucketMask && written < destination.Length; bucket++)
        {
            lock (_stripes[bucket % _stripes.Length])
            {
                foreach (ref var entry in _entries.AsSpan(bucket * Ways, Ways))
                {
                    if (written == destination.Length)
                        break;
                    if (entry.InUse && entry.Suppressed > 0 && nowMs - entry.WindowStartMs >= _windowMs)
                    {
                        destination[written++] = new SuppressedLines(entry.Key, entry.Suppressed);
                        entry.Suppressed = 0;
                    }
                }
            }
        }
        return written;
    }

    /// <summary>
    /// Drains the summaries into <paramref name="logger"/>, one line per source and one for all
    /// evicted sources; for a timer to call about once per window. Returns the lines written.
    /// </summary>
    public int ReportSummaries(ILogger logger, long nowMs)
    {
        ArgumentNullException.ThrowIfNull(logger);
        Span<SuppressedLines> batch = stackalloc SuppressedLines[64];
        var lines = 0;
        int count;
        long others = 0;
        do
        {
            count = DrainSummaries(nowMs, batch, out var evicted);
            others += evicted;
            foreach (var summary in batch[..count])
                logger.LogLinesSuppressed(summary.Count, summary.Source.ToString());
            lines += count;
        }
        while (count == batch.Length);
        if (others > 0)
        {
            logger.LogLinesSuppressedFromOthers(others);
            lines++;
        }
        return lines;
    }

    private bool TakeGlobal(long nowMs)
    {
        var window = (Math.DivRem(nowMs, _windowMs, out var remainder) - (remainder < 0 ? 1 : 0)) & GlobalWindowMask;
        while (true)
        {
            var current = Volatile.Read(ref _global);
            var sameWindow = current >> GlobalCountBits == window;
            var count = sameWindow ? current & GlobalCountMask : 0;
            if (count >= _linesPerWindow)
                return false;
            var next = (window << GlobalCountBits) | (count + 1);
            if (Interlocked.CompareExchange(ref _global, next, current) == current)
                return true;
        }
    }

    private ref Entry FindOrClaim(int bucket, SourceAddress key, long nowMs)
    {
        var entries = _entries.AsSpan(bucket * Ways, Ways);
        var victim = 0;
        for (var i = 0; i < Ways; i++)
        {
            ref var entry = ref entries[i];
            if (entry.InUse && entry.Key == key)
                return ref entry;
            if (!entries[victim].InUse)
                continue;
            if (!entry.InUse || entry.LastSeenMs < entries[victim].LastSeenMs)
                victim = i;
        }
        ref var claimed = ref entries[victim];
        if (claimed.InUse && claimed.Suppressed > 0)
            Interlocked.Add(ref _unattributed, claimed.Suppressed);
        claimed = new Entry { InUse = true, Key = key, WindowStartMs = nowMs, LastSeenMs = nowMs };
        return ref claimed;
    }

    private struct Entry
    {
        public SourceAddress Key;
        public long WindowStartMs;
        public long LastSeenMs;
        public long Suppressed;
        public int Written;
        public bool InUse;
    }
}
