using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace PjSharp.Interception.Security;

/// <summary>What <see cref="NonceCountTracker.Use"/> found.</summary>
internal enum NonceUse
{
    /// <summary>First use of this count (or a retransmission of the request that used it).</summary>
    Accepted,

    /// <summary>The count was used before, or is too old to tell: a replay.</summary>
    Repeated,

    /// <summary>
    /// The nonce is not in the table but may have been evicted from it, so a first use cannot be
    /// told from a replay. Not evidence of an attack: a client whose answer was delayed past a
    /// burst of newer nonces lands here too.
    /// </summary>
    Forgotten,
}

/// <summary>
/// Replay protection for authenticated requests, in fixed memory. With qop=auth each nonce
/// count (nc) is accepted once: a count above the highest seen so far, or one of the 64 below
/// it not seen yet (requests sent in parallel on one nonce arrive out of order). Without qop
/// (RFC 2069) a nonce is accepted once. Call it only after the nonce and the response checked
/// out, so that only authentic requests take up room.
/// </summary>
/// <remarks>
/// A set-associative table keyed by a keyed 64-bit hash of the nonce. When a bucket is full the
/// entry issued longest ago goes, and the bucket remembers the newest issue time it evicted: a
/// nonce missing from the table but issued no later than that may have been evicted, so it is
/// refused (the client gets a fresh challenge) rather than taken for new. Two nonces sharing a
/// hash share one history, which can only refuse more. Buckets are guarded by striped locks
/// held for a few instructions; nothing allocates per call.
/// </remarks>
internal sealed class NonceCountTracker
{
    public const int DefaultCapacity = 65_536;

    private const int Ways = 4;
    private const int WindowSize = 64;
    private const int MaxStripes = 1024;

    private readonly Entry[] _entries;
    // Per bucket: the newest issue time among entries evicted from it.
    private readonly long[] _evictedUpTo;
    private readonly Lock[] _stripes;
    private readonly int _bucketMask;
    private readonly ulong _seed0;
    private readonly ulong _seed1;

    /// <param name="capacity">Nonces remembered at once (rounded up to a power of two, at least 4).</param>
    public NonceCountTracker(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1 << 26);
        var buckets = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, (capacity + Ways - 1) / Ways));
        _entries = new Entry[buckets * Ways];
        _evictedUpTo = new long[buckets];
        Array.Fill(_evictedUpTo, long.MinValue);
        _bucketMask = buckets - 1;
        _stripes = new Lock[Math.Min(buckets, MaxStripes)];
        for (var i = 0; i < _stripes.Length; i++)
            _stripes[i] = new Lock();
        Span<ulong> seeds = stackalloc ulong[2];
        RandomNumberGenerator.Fill(System.Runtime.InteropServices.MemoryMarshal.AsBytes(seeds));
        (_seed0, _seed1) = (seeds[0], seeds[1]);
    }

    /// <summary>Nonces the table can hold.</summary>
    public int Capacity => _entries.Length;

    /// <summary>
    /// Records a use of <paramref name="nonce"/>; false when it is (or may be) a replay, which
    /// the caller answers with a fresh challenge (<c>stale=true</c>).
    /// </summary>
    /// <inheritdoc cref="Use" path="/param"/>
    public bool TryUse(ReadOnlySpan<byte> nonce, long issuedAtMs, uint nonceCount, bool hasQop, ulong retransmission = 0) =>
        Use(nonce, issuedAtMs, nonceCount, hasQop, retransmission) == NonceUse.Accepted;

    /// <summary>Records a use of <paramref name="nonce"/> and says whether it was new, a replay, or may have been forgotten.</summary>
    /// <param name="nonce">The nonce as the client sent it.</param>
    /// <param name="issuedAtMs">When the nonce was issued, from <see cref="NonceService.Verify(ReadOnlySpan{byte}, ReadOnlySpan{byte}, long, int, out long)"/>.</param>
    /// <param name="nonceCount">The <c>nc</c> value (with qop; at least 1).</param>
    /// <param name="hasQop">Whether the request used qop; without it the nonce is single-use.</param>
    /// <param name="retransmission">
    /// Identifies the request itself (Call-ID, CSeq, Via branch; never 0 when given): the same
    /// request sent again over UDP repeats its nonce count, and is accepted again rather than taken
    /// for a replay. Whatever it asks was already done once, so the answer repeats too.
    /// </param>
    public NonceUse Use(ReadOnlySpan<byte> nonce, long issuedAtMs, uint nonceCount, bool hasQop, ulong retransmission = 0)
    {
        if (hasQop && nonceCount == 0)
            return NonceUse.Repeated;
        var key = KeyOf(nonce);
        var bucket = (int)(key >> 32) & _bucketMask;
        var entries = _entries.AsSpan(bucket * Ways, Ways);
        lock (_stripes[bucket % _stripes.Length])
        {
            for (var i = 0; i < Ways; i++)
            {
                ref var entry = ref entries[i];
                if (entry.Key == key)
                {
                    if (retransmission != 0 && entry.LastRequest == retransmission && entry.LastCount == nonceCount)
                        return NonceUse.Accepted;
                    if (!hasQop || !entry.Advance(nonceCount))
                        return NonceUse.Repeated;
                    entry.LastRequest = retransmission;
                    entry.LastCount = nonceCount;
                    return NonceUse.Accepted;
                }
            }

            if (issuedAtMs <= _evictedUpTo[bucket])
                return NonceUse.Forgotten;

            ref var slot = ref entries[0];
            for (var i = 0; i < Ways; i++)
            {
                ref var candidate = ref entries[i];
                if (candidate.Key == 0)
                {
                    slot = ref candidate;
                    break;
                }
                if (candidate.IssuedAtMs < slot.IssuedAtMs)
                    slot = ref candidate;
            }
            if (slot.Key != 0)
                _evictedUpTo[bucket] = Math.Max(_evictedUpTo[bucket], slot.IssuedAtMs);
            slot = hasQop
                ? new Entry(key, issuedAtMs, nonceCount, 1)
                : new Entry(key, issuedAtMs, uint.MaxValue, ulong.MaxValue);
            slot.LastRequest = retransmission;
            slot.LastCount = nonceCount;
            return NonceUse.Accepted;
        }
    }

    /// <summary>
    /// The nonce's 64-bit key: keyed, so that nobody can aim nonces at one bucket; 0 marks a free slot.
    /// Each 8-byte block goes through a bijective mixer (SplitMix64's finalizer) chained on the state,
    /// so two nonces of one length share a key only by a 2^-64 chance. (Two 32-bit HashCodes did not
    /// give that: nonces of one process differ in few bytes, and distinct ones shared keys, so a
    /// client's first use of a fresh nonce was taken for a replay about once in 400,000.)
    /// </summary>
    internal ulong KeyOf(ReadOnlySpan<byte> nonce)
    {
        var state = _seed0 ^ ((ulong)nonce.Length * 0x9E3779B97F4A7C15UL);
        while (nonce.Length >= sizeof(ulong))
        {
            state = Mix(state ^ BinaryPrimitives.ReadUInt64LittleEndian(nonce));
            nonce = nonce[sizeof(ulong)..];
        }
        ulong tail = 0;
        for (var i = 0; i < nonce.Length; i++)
            tail |= (ulong)nonce[i] << (8 * i);
        var key = Mix(state ^ tail ^ _seed1);
        return key == 0 ? 1 : key;
    }

    private static ulong Mix(ulong value)
    {
        value ^= value >> 30;
        value *= 0xBF58476D1CE4E5B9UL;
        value ^= value >> 27;
        value *= 0x94D049BB133111EBUL;
        return value ^ (value >> 31);
    }

    private struct Entry(ulong key, long issuedAtMs, uint highest, ulong seen)
    {
        public readonly ulong Key = key;
        public readonly long IssuedAtMs = issuedAtMs;
        // The highest count accepted, and which of it and the 63 below it were (bit n: highest - n).
        private uint _highest = highest;
        private ulong _seen = seen;

        // The last request accepted, so its retransmission is recognised.
        public ulong LastRequest;
        public uint LastCount;

        public bool Advance(uint count)
        {
            if (count > _highest)
            {
                var shift = count - _highest;
                _seen = shift >= WindowSize ? 1 : (_seen << (int)shift) | 1;
                _highest = count;
                return true;
            }
            var age = _highest - count;
            if (age >= WindowSize)
                return false;
            var bit = 1UL << (int)age;
            if ((_seen & bit) != 0)
                return false;
            _seen |= bit;
            return true;
        }
    }
}
