using System.Collections.Frozen;

namespace PjSharp.DataAccess;

/// <summary>The object types PjSharp knows, by their <c>type=</c> names.</summary>
public static class ObjectTypes
{
    /// <summary>Every type, in the order <c>show</c> and the config writer list them.</summary>
    public static IReadOnlyList<ObjectType> All { get; } =
    [
        GlobalSettings.Type, Transport.Type, Endpoint.Type, Auth.Type, Aor.Type, Identify.Type, Acl.Type, Registration.Type, Contact.Type,
        ContactStatus.Type, RegistrationStatus.Type,
    ];

    private static readonly FrozenDictionary<string, ObjectType> ByName = All.ToFrozenDictionary(t => t.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Asterisk section types PjSharp does not implement: a config file may hold them (skipped, with a warning).</summary>
    public static IReadOnlyCollection<string> UnsupportedAsteriskTypes { get; } = new[]
    {
        "system", "domain_alias", "phoneprov", "resource_list", "inbound-publication", "outbound-publish",
        "asterisk-publication", "subscription_persistence", "wizard",
    }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The type named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static ObjectType? Find(string name) => ByName.GetValueOrDefault(name);

    /// <summary>The type named <paramref name="name"/>; throws <see cref="ArgumentException"/> when there is none.</summary>
    public static ObjectType Get(string name) =>
        Find(name) ?? throw new ArgumentException($"unknown object type '{name}' (expected {string.Join(", ", All.Select(t => t.Name))})", nameof(name));
}
