using System.Net;

namespace PjSharp.DataAccess;

/// <summary>Matches requests to an endpoint by source address, header or request URI (<c>type=identify</c>).</summary>
public sealed record Identify(string Id) : SipObject(Id), ISipObject<Identify>
{
    /// <summary>The endpoint matched requests belong to (<c>endpoint</c>); required.</summary>
    public string Endpoint { get; init; } = "";

    /// <summary>Source networks that match (<c>match</c> addresses and CIDRs).</summary>
    public ValueList<IPNetwork> MatchNetworks { get; init; }

    /// <summary>Host names whose addresses match (<c>match</c> names, resolved by the identifier).</summary>
    public ValueList<string> MatchHosts { get; init; }

    /// <summary>A header that matches, <c>Name: value</c> (<c>match_header</c>).</summary>
    public string MatchHeader { get; init; } = "";

    /// <summary>A request URI (or user) that matches (<c>match_request_uri</c>).</summary>
    public string MatchRequestUri { get; init; } = "";

    /// <summary>Resolve host names through SRV records (<c>srv_lookups</c>).</summary>
    public bool SrvLookups { get; init; } = true;

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    private static Identify ApplyMatch(Identify identify, string value)
    {
        var networks = identify.MatchNetworks;
        var hosts = identify.MatchHosts;
        foreach (var item in OptionValues.SplitList(value))
        {
            if (NetworkText.TryParseNetwork(item, out var network))
            {
                if (!networks.Contains(network))
                    networks = networks.Add(network);
            }
            else if (!item.Contains('/', StringComparison.Ordinal) && NetworkText.IsHostName(item))
            {
                if (!hosts.Contains(item))
                    hosts = hosts.Add(item);
            }
            else
            {
                throw new OptionValueException($"invalid value '{item}': expected an IP address, a network (10.0.0.0/8) or a host name");
            }
        }
        return identify with { MatchNetworks = networks, MatchHosts = hosts };
    }

    private static string ParseHeader(string value)
    {
        var trimmed = value.Trim();
        if (trimmed.Length > 0 && trimmed.IndexOf(':', StringComparison.Ordinal) <= 0)
            throw new OptionValueException($"invalid value '{value}': expected 'Header-Name: value'");
        return trimmed;
    }

    private static IEnumerable<(string, string)> Validate(Identify identify)
    {
        if (identify.Endpoint.Length == 0)
            yield return ("endpoint", "required");
        if (identify.MatchNetworks.IsEmpty && identify.MatchHosts.IsEmpty && identify.MatchHeader.Length == 0 && identify.MatchRequestUri.Length == 0)
            yield return ("match", "one of match, match_header or match_request_uri is required");
    }

    private static readonly string[] UnsupportedOptions = [];

    /// <summary>The <c>identify</c> type.</summary>
    public static ObjectType<Identify> Type { get; } = new(
        "identify",
        isDynamic: false,
        id => new Identify(id),
        o =>
        {
            o.Text("endpoint", i => i.Endpoint, (i, v) => i with { Endpoint = v });
            o.Custom("match", ApplyMatch, i => string.Join(",", i.MatchNetworks.Select(n => n.ToString()).Concat(i.MatchHosts)), repeatable: true);
            o.Custom("match_header", (i, v) => i with { MatchHeader = ParseHeader(v) }, i => i.MatchHeader);
            o.Text("match_request_uri", i => i.MatchRequestUri, (i, v) => i with { MatchRequestUri = v });
            o.Bool("srv_lookups", i => i.SrvLookups, (i, v) => i with { SrvLookups = v });
        },
        Validate,
        UnsupportedOptions);
}
