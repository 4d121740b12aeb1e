namespace PjSharp.Interception.Stages;

/// <summary>
/// The global ACL (every <c>acl</c> object): a source it denies gets no answer at all, so a
/// scanner learns nothing. Per-endpoint ACLs are checked once the endpoint is known.
/// </summary>
public sealed class AclStage(SecurityEvents events) : InterceptionStage("acl", InterceptionOrder.Acl)
{
    public override InterceptionVerdict OnRequest(ref InterceptionContext context)
    {
        var rules = context.Directory.GlobalAcl;
        if (rules.Length == 0 || SecurityDirectory.Permits(rules, context.Source))
            return InterceptionVerdict.Continue;
        events.AclRejected(context.Source, null);
        return InterceptionVerdict.Stop;
    }
}
