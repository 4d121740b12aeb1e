using System.Text;
using PjSharp.DataAccess;

namespace PjSharp.Interception.Stages;

/// <summary>
/// Finds the endpoint a request belongs to, trying the methods of
/// <c>global/endpoint_identifier_order</c> in turn: the From user (<c>username</c>), the
/// Authorization username (<c>auth_username</c>), the source address through <c>identify</c>
/// objects (<c>ip</c>), a header through <c>identify</c> objects' <c>match_header</c> (<c>header</c>). A request nobody claims meets the artificial endpoint, which is
/// challenged like any other. Then the endpoint's own ACL applies.
/// </summary>
public sealed class IdentifyStage(SecurityEvents events) : InterceptionStage("identify", InterceptionOrder.Identify)
{
    private const int MaxUserChars = 256;

    public override InterceptionVerdict OnRequest(ref InterceptionContext context)
    {
        if (context.Endpoint == null)
        {
            foreach (var method in context.Directory.IdentifierMethods)
            {
                var found = method switch
                {
                    IdentifyMethod.Username => ByName(context.Directory, context.Request.FromUser, IdentifyMethod.Username),
                    IdentifyMethod.AuthUsername => ByName(context.Directory, context.Request.AuthorizationUsername, IdentifyMethod.AuthUsername),
                    IdentifyMethod.Ip => context.Directory.FindByAddress(context.Source),
                    IdentifyMethod.Header when context.Directory.HasHeaderRules => context.Directory.FindByHeader(context.Request),
                    _ => null,
                };
                if (found != null)
                {
                    context.Endpoint = found;
                    break;
                }
            }
        }
        if (context.Endpoint == null)
        {
            context.Endpoint = context.Directory.Artificial;
            events.InvalidEndpoint(context.Source, context.Request.FromUser);
            return InterceptionVerdict.Continue;
        }
        if (context.Endpoint.Acl.Length > 0 && !SecurityDirectory.Permits(context.Endpoint.Acl, context.Source))
        {
            events.AclRejected(context.Source, context.Endpoint.Id);
            return InterceptionVerdict.Stop;
        }
        return InterceptionVerdict.Continue;
    }

    private static EndpointIdentity? ByName(SecurityDirectory directory, ReadOnlySpan<byte> user, IdentifyMethod method)
    {
        if (user.IsEmpty || user.Length > MaxUserChars)
            return null;
        Span<char> name = stackalloc char[MaxUserChars];
        if (!Encoding.UTF8.TryGetChars(user, name, out var length))
            return null;
        return directory.TryGetEndpoint(name[..length], out var endpoint) && endpoint.Endpoint.IdentifyBy.Contains(method)
            ? endpoint
            : null;
    }
}
