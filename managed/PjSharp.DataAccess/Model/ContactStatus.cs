using System.Globalization;

namespace PjSharp.DataAccess;

/// <summary>What qualify last found out about a contact.</summary>
public enum ContactReachability
{
    /// <summary>Not qualified yet.</summary>
    Unknown,

    /// <summary>Answered the last OPTIONS (any final response but 408).</summary>
    Reachable,

    /// <summary>Did not answer the last OPTIONS in time.</summary>
    Unreachable,
}

/// <summary>
/// Qualify's view of one contact (<c>type=contact_status</c>, as Asterisk has): dynamic state, written by
/// qualify when the status changes (and the round-trip time now and then), removed with the contact.
/// Its id is the contact's id.
/// </summary>
public sealed record ContactStatus(string Id) : SipObject(Id), ISipObject<ContactStatus>
{
    /// <summary>The AOR of the contact (<c>aor</c>).</summary>
    public string Aor { get; init; } = "";

    /// <summary>The contact URI (<c>uri</c>).</summary>
    public string Uri { get; init; } = "";

    /// <summary>Reachable, Unreachable or Unknown (<c>status</c>).</summary>
    public ContactReachability Status { get; init; }

    /// <summary>The round-trip time of the last answered OPTIONS, in microseconds (<c>rtt</c>); 0 when none.</summary>
    public ulong RoundTripMicroseconds { get; init; }

    /// <summary>When this was written (<c>updated_at</c>, Unix seconds).</summary>
    public DateTimeOffset UpdatedAt { get; init; } = DateTimeOffset.UnixEpoch;

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    private static readonly (string Name, ContactReachability Value)[] StatusNames =
    [
        ("Unknown", ContactReachability.Unknown), ("Reachable", ContactReachability.Reachable), ("Unreachable", ContactReachability.Unreachable),
    ];

    private static ulong ParseMicroseconds(string value)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0)
            return 0;
        return ulong.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var microseconds)
            ? microseconds
            : throw new OptionValueException($"invalid value '{value}': expected microseconds");
    }

    /// <summary>The <c>contact_status</c> type.</summary>
    public static ObjectType<ContactStatus> Type { get; } = new(
        "contact_status",
        isDynamic: true,
        id => new ContactStatus(id),
        o =>
        {
            o.Text("aor", s => s.Aor, (s, v) => s with { Aor = v });
            o.Text("uri", s => s.Uri, (s, v) => s with { Uri = v });
            o.Enum("status", StatusNames, s => s.Status, (s, v) => s with { Status = v });
            o.Custom("rtt", (s, v) => s with { RoundTripMicroseconds = ParseMicroseconds(v) }, s => s.RoundTripMicroseconds.ToString(CultureInfo.InvariantCulture));
            o.Custom("updated_at", (s, v) => s with { UpdatedAt = OptionValues.ParseUnixTime(v) }, s => s.UpdatedAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        },
        validate: null,
        []);
}
