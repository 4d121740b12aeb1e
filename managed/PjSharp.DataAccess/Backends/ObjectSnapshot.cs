namespace PjSharp.DataAccess;

/// <summary>An immutable set of objects with their fields, as a config source produced them at one load.</summary>
internal sealed class ObjectSnapshot
{
    private readonly Dictionary<ObjectType, SortedDictionary<string, Entry>> _types;

    public ObjectSnapshot(IEnumerable<SipObject> objects)
    {
        _types = [];
        foreach (var value in objects)
        {
            if (!_types.TryGetValue(value.ObjectType, out var entries))
                _types[value.ObjectType] = entries = new SortedDictionary<string, Entry>(StringComparer.Ordinal);
            entries[value.Id] = new Entry(value);
        }
    }

    public static ObjectSnapshot Empty { get; } = new([]);

    public int Count => _types.Values.Sum(t => t.Count);

    public IEnumerable<ObjectType> Types => _types.Keys;

    public SipObject? Get(ObjectType type, string id) =>
        _types.TryGetValue(type, out var entries) && entries.TryGetValue(id, out var entry) ? entry.Object : null;

    public IReadOnlyList<SipObject> All(ObjectType type) =>
        _types.TryGetValue(type, out var entries) ? entries.Values.Select(e => e.Object).ToList() : [];

    public IReadOnlyList<SipObject> ByPrefix(ObjectType type, string prefix) =>
        _types.TryGetValue(type, out var entries)
            ? entries.Values.Where(e => e.Object.Id.StartsWith(prefix, StringComparison.Ordinal)).Select(e => e.Object).ToList()
            : [];

    public IReadOnlyList<SipObject> ByField(ObjectType type, string field, string value) =>
        _types.TryGetValue(type, out var entries)
            ? entries.Values.Where(e => ObjectType.GetFieldValues(e.Fields, field).Contains(value, StringComparer.Ordinal)).Select(e => e.Object).ToList()
            : [];

    /// <summary>
    /// The snapshot to keep when <paramref name="next"/> is loaded: unchanged objects keep their old instances, so
    /// holders of them see no change; the changes are listed for observers.
    /// </summary>
    public ObjectSnapshot Merge(ObjectSnapshot next, List<ObjectChange> changes)
    {
        var merged = new List<SipObject>();
        foreach (var (type, entries) in next._types)
        {
            _types.TryGetValue(type, out var old);
            foreach (var (id, entry) in entries)
            {
                if (old is not null && old.TryGetValue(id, out var previous))
                {
                    if (previous.Fields.SequenceEqual(entry.Fields))
                    {
                        merged.Add(previous.Object);
                        continue;
                    }
                    changes.Add(new ObjectChange(type, id, ChangeKind.Updated, entry.Object, ChangeOrigin.Reload));
                }
                else
                {
                    changes.Add(new ObjectChange(type, id, ChangeKind.Created, entry.Object, ChangeOrigin.Reload));
                }
                merged.Add(entry.Object);
            }
        }
        foreach (var (type, entries) in _types)
        {
            next._types.TryGetValue(type, out var now);
            foreach (var (id, entry) in entries)
            {
                if (now is null || !now.ContainsKey(id))
                    changes.Add(new ObjectChange(type, id, ChangeKind.Deleted, entry.Object, ChangeOrigin.Reload));
            }
        }
        return new ObjectSnapshot(merged);
    }

    /// <summary>An object and its fields, computed on first use: most loads never query by field.</summary>
    private sealed class Entry(SipObject value)
    {
        private IReadOnlyList<KeyValuePair<string, string>>? _fields;

        public SipObject Object { get; } = value;

        public IReadOnlyList<KeyValuePair<string, string>> Fields => _fields ??= Object.ObjectType.ToFields(Object);
    }
}
