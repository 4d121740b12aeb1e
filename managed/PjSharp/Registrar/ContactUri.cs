namespace PjSharp.Registrar;

/// <summary>
/// Contact URI equality for the registrar (RFC 3261 §19.1.4, simplified). For <c>sip:</c> and <c>sips:</c> URIs the
/// user part (userinfo) is compared exactly and everything else (scheme, host, port, parameters, headers) without
/// regard to case; other schemes compare exactly apart from the scheme's case. Not applied: reordering of
/// parameters, the rules for parameters present in only one URI, and %-escape decoding, so
/// <c>sip:a@h;transport=tcp;lr</c> and <c>sip:a@h;lr;transport=tcp</c> are different bindings. A UA refreshes with
/// the URI it registered, so the simple rule finds its binding.
/// </summary>
public static class ContactUri
{
    /// <summary>Compares contact URIs by <see cref="Normalize"/>.</summary>
    public static IEqualityComparer<string> Comparer { get; } = new UriComparer();

    /// <summary>True for <c>sip:</c> and <c>sips:</c> URIs, the only ones the registrar binds (as Asterisk).</summary>
    public static bool IsSipOrSips(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return uri.StartsWith("sip:", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("sips:", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The form compared: see the type's remarks. Two URIs are the same binding when their forms are equal.</summary>
    public static string Normalize(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
            return uri;
        var scheme = uri[..colon].ToLowerInvariant();
        if (!IsSipOrSips(uri))
            return string.Concat(scheme, uri.AsSpan(colon));
        // userinfo ends at '@', which cannot appear unescaped in it; headers ('?') come after the host.
        var rest = uri.AsSpan(colon + 1);
        var headers = rest.IndexOf('?');
        var at = (headers < 0 ? rest : rest[..headers]).IndexOf('@');
        var userinfo = at < 0 ? ReadOnlySpan<char>.Empty : rest[..(at + 1)];
        var tail = rest[userinfo.Length..].ToString().ToLowerInvariant();
        return string.Concat(scheme, ":", userinfo, tail);
    }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> name the same binding.</summary>
    public static bool AreEquivalent(string a, string b) => string.Equals(Normalize(a), Normalize(b), StringComparison.Ordinal);

    /// <summary>
    /// <paramref name="uri"/> with its host and port replaced by <paramref name="target"/> and its <c>transport</c>
    /// parameter set to <paramref name="transport"/>, user part and other parameters kept: how a binding made over a
    /// WebSocket connection (whose Contact host is a <c>.invalid</c> name, RFC 7118 §5) is reached again through that
    /// connection. Other schemes come back unchanged.
    /// </summary>
    public static string WithTarget(string uri, System.Net.IPEndPoint target, string transport)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrEmpty(transport);
        if (!IsSipOrSips(uri))
            return uri;
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        var rest = uri.AsSpan(colon + 1);
        var headersAt = rest.IndexOf('?');
        var headers = headersAt < 0 ? ReadOnlySpan<char>.Empty : rest[headersAt..];
        var beforeHeaders = headersAt < 0 ? rest : rest[..headersAt];
        var at = beforeHeaders.IndexOf('@');
        var userinfo = at < 0 ? ReadOnlySpan<char>.Empty : beforeHeaders[..(at + 1)];
        var hostAndParameters = beforeHeaders[userinfo.Length..];
        // An IPv6 reference may hold ';' nowhere, but skip its brackets anyway.
        var close = hostAndParameters.StartsWith("[") ? hostAndParameters.IndexOf(']') : -1;
        var semicolon = hostAndParameters[(close + 1)..].IndexOf(';');
        var parameters = semicolon < 0 ? ReadOnlySpan<char>.Empty : hostAndParameters[(close + 1 + semicolon)..];
        var builder = new System.Text.StringBuilder(uri.Length + 32);
        builder.Append(uri.AsSpan(0, colon + 1)).Append(userinfo);
        builder.Append(target.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{target.Address}]" : target.Address.ToString());
        builder.Append(':').Append(target.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var parameter in parameters.ToString().Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!parameter.StartsWith("transport=", StringComparison.OrdinalIgnoreCase) && !parameter.Equals("transport", StringComparison.OrdinalIgnoreCase))
                builder.Append(';').Append(parameter);
        }
        builder.Append(";transport=").Append(transport).Append(headers);
        return builder.ToString();
    }

    private sealed class UriComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) => x is null || y is null ? ReferenceEquals(x, y) : AreEquivalent(x, y);

        public int GetHashCode(string obj) => StringComparer.Ordinal.GetHashCode(Normalize(obj));
    }
}
