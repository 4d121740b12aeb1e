namespace PjSharp.Diagnostics;

/// <summary>
/// pjsip's pool memory at one moment (<see cref="SipEndpoint.PoolUsage"/>): every dialog, transaction, message buffer
/// and media stream draws from a pool of the endpoint's caching pool, so a leak of any of them shows here.
/// </summary>
/// <param name="PoolsInUse">Pools created and not yet released.</param>
/// <param name="UsedCapacityBytes">Bytes the blocks of those pools reserve (what they cost in memory).</param>
/// <param name="UsedBytes">Bytes allocated from those blocks.</param>
/// <param name="CachedBytes">Bytes of released pools kept for reuse.</param>
/// <param name="MaxCachedBytes">The most the cache keeps (the pool cache size); released pools beyond it are freed.</param>
public readonly record struct SipPoolUsage(long PoolsInUse, long UsedCapacityBytes, long UsedBytes, long CachedBytes, long MaxCachedBytes);
