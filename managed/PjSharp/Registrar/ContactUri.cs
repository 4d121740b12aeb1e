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

    private sealed class UriComparer : IEqualityComparer<string>
    {
        public bool Equals(string? x, string? y) => x is null || y is null ? ReferenceEquals(x, y) : AreEquivalent(x, y);

        public int GetHashCode(string obj) => StringComparer.Ordinal.GetHashCode(Normalize(obj));
    }
}
