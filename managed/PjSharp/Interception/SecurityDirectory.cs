using System.Net;
using PjSharp.DataAccess;
using PjSharp.Interception.Security;

namespace PjSharp.Interception;

/// <summary>
/// An endpoint as interception sees it: the configured object with its auths, AORs and ACL
/// resolved once, so the pjsip thread never waits on the data access layer.
/// </summary>
public sealed class EndpointIdentity
{
    internal EndpointIdentity(int index, Endpoint endpoint, IReadOnlyList<Auth> auths, IReadOnlyList<Aor> aors, AclRule[] acl, bool isArtificial,
        StoredCredential[] credentials, string realm)
    {
        Credentials = credentials;
        Realm = realm;
        Index = index;
        Endpoint = endpoint;
        Auths = auths;
        Aors = aors;
        Acl = acl;
        IsArtificial = isArtificial;
    }

    public string Id => Endpoint.Id;

    public Endpoint Endpoint { get; }

    /// <summary>The endpoint's <c>auth</c> objects; empty means requests are not challenged.</summary>
    public IReadOnlyList<Auth> Auths { get; }

    public IReadOnlyList<Aor> Aors { get; }

    /// <summary>The endpoint's ACL rules (inline and named), in order.</summary>
    internal AclRule[] Acl { get; }

    /// <summary>
    /// The stand-in for requests no endpoint claims: challenged like any other and never
    /// authenticated, so an unknown user cannot be told from a wrong password.
    /// </summary>
    public bool IsArtificial { get; }

    internal int Index { get; }

    /// <summary>The digest secrets of <see cref="Auths"/>, hashed at load.</summary>
    internal StoredCredential[] Credentials { get; }

    /// <summary>The realm challenges for this endpoint carry.</summary>
    public string Realm { get; }

    /// <summary>Whether requests must authenticate: the endpoint has auths, or is the artificial one.</summary>
    public bool RequiresAuthentication => IsArtificial || Credentials.Length > 0;

    /// <summary>The credential whose username is <paramref name="username"/> (unquoted), or null.</summary>
    internal StoredCredential? FindCredential(ReadOnlySpan<byte> username)
    {
        foreach (var credential in Credentials)
        {
            if (credential.Username.SequenceEqual(username))
                return credential;
        }
        return null;
    }

    public override string ToString() => Id;
}

/// <summary>
/// A snapshot of what interception needs from configuration: endpoints by name, identify
/// rules by source address, the global ACL and the identifier order. Immutable; a reload
/// builds a new one and swaps it in.
/// </summary>
public sealed class SecurityDirectory
{
    private static int s_generation;
    private readonly Dictionary<string, EndpointIdentity> _endpoints;
    private readonly Dictionary<string, EndpointIdentity>.AlternateLookup<ReadOnlySpan<char>> _endpointsBySpan;
    private readonly (IPNetwork Network, EndpointIdentity Endpoint)[] _addressRules;
    private readonly (string Name, string Value, EndpointIdentity Endpoint)[] _headerRules;

    private SecurityDirectory(
        Dictionary<string, EndpointIdentity> endpoints, EndpointIdentity[] byIndex,
        (IPNetwork, EndpointIdentity)[] addressRules, (string, string, EndpointIdentity)[] headerRules,
        AclRule[] globalAcl, GlobalSettings global, Dictionary<string, Aor> aors)
    {
        _headerRules = headerRules;
        _endpoints = endpoints;
        _endpointsBySpan = endpoints.GetAlternateLookup<ReadOnlySpan<char>>();
        ByIndex = byIndex;
        _addressRules = addressRules;
        GlobalAcl = globalAcl;
        Global = global;
        AorsById = aors;
        Generation = Interlocked.Increment(ref s_generation);
        Artificial = byIndex[0];
        IdentifierMethods = [.. ParseOrder(global.EndpointIdentifierOrder)];
    }

    public GlobalSettings Global { get; }

    public EndpointIdentity Artificial { get; }

    public IReadOnlyCollection<EndpointIdentity> Endpoints => _endpoints.Values;

    internal IReadOnlyDictionary<string, Aor> AorsById { get; }

    /// <summary>The global ACL: every <c>acl</c> object's rules; the last matching rule decides.</summary>
    internal AclRule[] GlobalAcl { get; }

    /// <summary><c>global/endpoint_identifier_order</c>, as methods.</summary>
    public IReadOnlyList<IdentifyMethod> IdentifierOrder => IdentifierMethods;

    // An array, so the per-request loop over it allocates no enumerator.
    internal IdentifyMethod[] IdentifierMethods { get; }

    internal int Generation { get; }

    internal EndpointIdentity[] ByIndex { get; }

    public bool TryGetEndpoint(ReadOnlySpan<char> id, out EndpointIdentity endpoint) =>
        _endpointsBySpan.TryGetValue(id, out endpoint!);

    public EndpointIdentity? FindByAddress(SourceAddress source)
    {
        foreach (var (network, endpoint) in _addressRules)
        {
            if (source.IsIn(network))
                return endpoint;
        }
        return null;
    }

    /// <summary>
    /// The endpoint whose <c>identify</c> names a header the request carries with that value
    /// (<c>match_header = X-Name: value</c>, the value compared without regard to case). Requests
    /// are only looked at when such rules exist.
    /// </summary>
    public EndpointIdentity? FindByHeader(SipRequest request)
    {
        foreach (var (name, value, endpoint) in _headerRules)
        {
            foreach (var present in request.GetHeaders(name))
            {
                if (present.Trim().Equals(value, StringComparison.OrdinalIgnoreCase))
                    return endpoint;
            }
        }
        return null;
    }

    /// <summary>Whether any <c>identify</c> matches by header.</summary>
    internal bool HasHeaderRules => _headerRules.Length > 0;

    /// <summary>Whether <paramref name="rules"/> let the address through: the last matching rule decides; none matching permits.</summary>
    internal static bool Permits(AclRule[] rules, SourceAddress source)
    {
        var permitted = true;
        foreach (var rule in rules)
        {
            if (source.IsIn(rule.Network))
                permitted = rule.Action == AclAction.Permit;
        }
        return permitted;
    }

    /// <summary>Reads every configured object the snapshot needs from the store.</summary>
    public static async Task<SecurityDirectory> LoadAsync(ObjectStore store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var mapped = store.MappedTypes.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        async Task<IReadOnlyList<T>> All<T>() where T : SipObject, ISipObject<T> =>
            mapped.Contains(T.Type.Name) ? await store.GetAllAsync<T>(cancellationToken).ConfigureAwait(false) : [];
        var globals = await All<GlobalSettings>().ConfigureAwait(false);
        return Create(
            await All<Endpoint>().ConfigureAwait(false), await All<Auth>().ConfigureAwait(false),
            await All<Aor>().ConfigureAwait(false), await All<Identify>().ConfigureAwait(false),
            await All<Acl>().ConfigureAwait(false), globals.Count > 0 ? globals[0] : null);
    }

    public static SecurityDirectory Create(
        IEnumerable<Endpoint> endpoints, IEnumerable<Auth> auths, IEnumerable<Aor> aors,
        IEnumerable<Identify> identifies, IEnumerable<Acl> acls, GlobalSettings? global = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var authById = auths.ToDictionary(a => a.Id, StringComparer.Ordinal);
        var aorById = aors.ToDictionary(a => a.Id, StringComparer.Ordinal);
        var aclById = acls.ToDictionary(a => a.Id, StringComparer.Ordinal);

        var settings = global ?? new GlobalSettings("global");
        var credentials = new Dictionary<string, StoredCredential>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var auth in authById.Values)
        {
            try
            {
                credentials[auth.Id] = StoredCredential.FromAuth(auth, settings.DefaultRealm);
            }
            catch (ArgumentException error)
            {
                problems.Add($"auth '{auth.Id}': {error.Message.Split(" (Parameter", 2)[0]}");
            }
        }
        if (problems.Count > 0)
            throw new ConfigurationException(string.Join(Environment.NewLine, problems));

        // Unknown users meet this one: same realm and algorithms as the default, a secret nobody has.
        var byIndex = new List<EndpointIdentity>
        {
            new(0, new Endpoint("anonymous-unidentified"), [], [], [], isArtificial: true, [], settings.DefaultRealm),
        };
        var byId = new Dictionary<string, EndpointIdentity>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints)
        {
            var acl = endpoint.AclRules.AsSpan().ToArray()
                .Concat(endpoint.Acl.SelectMany(name => aclById.TryGetValue(name, out var named) ? named.Rules.AsSpan().ToArray() : []))
                .ToArray();
            var endpointCredentials = endpoint.Auth.Where(credentials.ContainsKey).Select(id => credentials[id]).ToArray();
            var identity = new EndpointIdentity(byIndex.Count, endpoint,
                endpoint.Auth.Where(authById.ContainsKey).Select(id => authById[id]).ToArray(),
                endpoint.Aors.Where(aorById.ContainsKey).Select(id => aorById[id]).ToArray(),
                acl, isArtificial: false, endpointCredentials,
                endpointCredentials.Length > 0 ? endpointCredentials[0].RealmText : settings.DefaultRealm);
            byIndex.Add(identity);
            byId[endpoint.Id] = identity;
        }
        var addressRules = new List<(IPNetwork, EndpointIdentity)>();
        var headerRules = new List<(string, string, EndpointIdentity)>();
        foreach (var identify in identifies)
        {
            if (!byId.TryGetValue(identify.Endpoint, out var owner))
                continue;
            foreach (var network in identify.MatchNetworks)
                addressRules.Add((network, owner));
            var colon = identify.MatchHeader.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
                headerRules.Add((identify.MatchHeader[..colon].Trim(), identify.MatchHeader[(colon + 1)..].Trim(), owner));
        }
        // The most specific network wins, whatever the file order.
        addressRules.Sort((a, b) => b.Item1.PrefixLength.CompareTo(a.Item1.PrefixLength));
        var globalAcl = aclById.Values.OrderBy(a => a.Id, StringComparer.Ordinal).SelectMany(a => a.Rules.AsSpan().ToArray()).ToArray();
        return new SecurityDirectory(byId, [.. byIndex], [.. addressRules], [.. headerRules], globalAcl, settings, aorById);
    }

    private static List<IdentifyMethod> ParseOrder(ValueList<string> order)
    {
        var methods = new List<IdentifyMethod>();
        foreach (var name in order)
        {
            IdentifyMethod? method = name.Trim().ToLowerInvariant() switch
            {
                "username" => IdentifyMethod.Username,
                "auth_username" => IdentifyMethod.AuthUsername,
                "ip" => IdentifyMethod.Ip,
                "header" => IdentifyMethod.Header,
                "request_uri" => IdentifyMethod.RequestUri,
                _ => null,
            };
            if (method is { } m && !methods.Contains(m))
                methods.Add(m);
        }
        return methods;
    }
}
