using System.Collections.Concurrent;

namespace PjSharp.DataAccess;

/// <summary>
/// Objects of one type kept in memory by id for a while (Asterisk's memory cache). The store registers it as an
/// observer of its type, so creates, updates, deletes and reloads (local, reloaded or from other nodes) drop entries.
/// A hit neither locks nor allocates.
/// </summary>
public sealed class MemoryCache : IObjectObserver
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly long _lifetimeTicks;
    private long _generation;

    /// <summary>Creates a cache whose entries live for <paramref name="expiry"/>.</summary>
    public MemoryCache(ObjectType type, TimeSpan expiry, TimeProvider? timeProvider = null, int maximumObjects = 0)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(expiry, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(maximumObjects);
        Type = type;
        Expiry = expiry;
        MaximumObjects = maximumObjects;
        _time = timeProvider ?? TimeProvider.System;
        _lifetimeTicks = (long)(expiry.TotalSeconds * _time.TimestampFrequency);
    }

    /// <summary>The cached type.</summary>
    public ObjectType Type { get; }

    /// <summary>How long an entry is served after it was loaded.</summary>
    public TimeSpan Expiry { get; }

    /// <summary>Most entries kept (0 for no limit); past it, expired and then arbitrary entries are dropped.</summary>
    public int MaximumObjects { get; }

    /// <summary>Entries held, expired ones included.</summary>
    public int Count => _entries.Count;

    /// <summary>Lookups answered from memory.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Lookups that went to the backends.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    private long _hits;
    private long _misses;

    /// <summary>The cached object, if present and not expired.</summary>
    public bool TryGet(string id, out SipObject? value)
    {
        if (_entries.TryGetValue(id, out var entry) && _time.GetTimestamp() < entry.ExpiresAt)
        {
            Interlocked.Increment(ref _hits);
            value = entry.Object;
            return true;
        }
        Interlocked.Increment(ref _misses);
        value = null;
        return false;
    }

    /// <summary>A token to pass to <see cref="Set"/>, so that a load racing an invalidation is not cached.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Caches <paramref name="value"/> unless an invalidation happened since <paramref name="generation"/> was read.</summary>
    public void Set(SipObject value, long generation)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (MaximumObjects > 0 && _entries.Count >= MaximumObjects)
            Trim();
        _entries[value.Id] = new Entry(value, _time.GetTimestamp() + _lifetimeTicks);
        // An invalidation between the load and this store wins.
        if (Generation != generation)
            _entries.TryRemove(value.Id, out _);
    }

    /// <summary>Drops one entry.</summary>
    public void Invalidate(string id)
    {
        Interlocked.Increment(ref _generation);
        _entries.TryRemove(id, out _);
    }

    /// <summary>Drops every entry.</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    private void Trim()
    {
        var now = _time.GetTimestamp();
        foreach (var (id, entry) in _entries)
        {
            if (entry.ExpiresAt <= now)
                _entries.TryRemove(id, out _);
        }
        foreach (var id in _entries.Keys)
        {
            if (_entries.Count < MaximumObjects)
                break;
            _entries.TryRemove(id, out _);
        }
    }

    void IObjectObserver.Created(ObjectChange change) => Invalidate(change.Id);

    void IObjectObserver.Updated(ObjectChange change) => Invalidate(change.Id);

    void IObjectObserver.Deleted(ObjectChange change) => Invalidate(change.Id);

    void IObjectObserver.Reloaded(ObjectType type) => Clear();

    private sealed record Entry(SipObject Object, long ExpiresAt);
}
