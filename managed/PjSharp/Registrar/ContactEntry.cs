namespace PjSharp.Registrar;

/// <summary>
/// One value of a Contact header (RFC 3261 §20.10): a URI with its header parameters, or the <c>*</c> wildcard.
/// Made by <see cref="ContactHeaderParser"/>, or directly in code and tests.
/// </summary>
public sealed record ContactEntry
{
    /// <summary>A binding to <paramref name="uri"/> (the URI without angle brackets).</summary>
    public ContactEntry(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        Uri = uri;
    }

    private ContactEntry()
    {
        Uri = "*";
        IsWildcard = true;
    }

    /// <summary>The <c>*</c> value: every binding of the AOR (only with <c>Expires: 0</c>, alone).</summary>
    public static ContactEntry Wildcard { get; } = new();

    /// <summary>True for <c>*</c>.</summary>
    public bool IsWildcard { get; }

    /// <summary>The URI as sent, without angle brackets (<c>*</c> for the wildcard).</summary>
    public string Uri { get; }

    /// <summary>The same value naming another URI (parameters kept).</summary>
    public ContactEntry WithUri(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return new ContactEntry(uri) { DisplayName = DisplayName, Expires = Expires, Q = Q, Parameters = Parameters };
    }

    /// <summary>The display name, unquoted; null when there is none.</summary>
    public string? DisplayName { get; init; }

    /// <summary>The <c>expires</c> parameter in seconds (values past <see cref="uint.MaxValue"/> saturate); null when absent.</summary>
    public uint? Expires { get; init; }

    /// <summary>The <c>q</c> parameter (0 to 1); null when absent.</summary>
    public double? Q { get; init; }

    /// <summary>Every header parameter as written (name, value or null for a flag; quoted values unquoted), <c>expires</c> and <c>q</c> included.</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Parameters { get; init; } = [];
}
