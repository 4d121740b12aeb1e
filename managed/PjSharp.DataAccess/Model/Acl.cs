namespace PjSharp.DataAccess;

/// <summary>An access control list (<c>type=acl</c>) for request sources and for Contact addresses.</summary>
public sealed record Acl(string Id) : SipObject(Id), ISipObject<Acl>
{
    /// <summary><c>permit</c>/<c>deny</c> rules for the source address, in order; the last matching rule decides.</summary>
    public ValueList<AclRule> Rules { get; init; }

    /// <summary>Named ACLs defined elsewhere (<c>acl</c>).</summary>
    public ValueList<string> NamedAcls { get; init; }

    /// <summary><c>contact_permit</c>/<c>contact_deny</c> rules for Contact header addresses, in order.</summary>
    public ValueList<AclRule> ContactRules { get; init; }

    /// <summary>Named ACLs for Contact addresses (<c>contact_acl</c>).</summary>
    public ValueList<string> ContactNamedAcls { get; init; }

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    /// <summary>The <c>acl</c> type.</summary>
    public static ObjectType<Acl> Type { get; } = new(
        "acl",
        isDynamic: false,
        id => new Acl(id),
        o =>
        {
            o.AclRules("permit", "deny", a => a.Rules, (a, v) => a with { Rules = v });
            o.NameList("acl", a => a.NamedAcls, (a, v) => a with { NamedAcls = v });
            o.AclRules("contact_permit", "contact_deny", a => a.ContactRules, (a, v) => a with { ContactRules = v });
            o.NameList("contact_acl", a => a.ContactNamedAcls, (a, v) => a with { ContactNamedAcls = v });
        });
}
