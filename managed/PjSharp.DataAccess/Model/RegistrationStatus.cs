using System.Globalization;

namespace PjSharp.DataAccess;

/// <summary>Where an outbound registration stands (<c>status</c> of <see cref="RegistrationStatus"/>).</summary>
public enum RegistrationState
{
    /// <summary>Not registered: not tried yet, or removed (Expires: 0) on purpose (<c>unregistered</c>).</summary>
    Unregistered,
    /// <summary>The registrar accepted the binding; a refresh is scheduled before it expires (<c>registered</c>).</summary>
    Registered,
    /// <summary>A temporary failure (timeout, 5xx, ...): another attempt is scheduled (<c>retrying</c>).</summary>
    Retrying,
    /// <summary>A permanent failure (403, rejected credentials, fatal answer, retries used up): no more attempts (<c>rejected</c>).</summary>
    Rejected,
    /// <summary>The service stopped; nothing is scheduled (<c>stopped</c>).</summary>
    Stopped,
}

/// <summary>
/// The state of one outbound registration (<c>type=registration_status</c>): dynamic, written by the
/// outbound registration service, never read from config files. Its id is the registration's id.
/// </summary>
public sealed record RegistrationStatus(string Id) : SipObject(Id), ISipObject<RegistrationStatus>
{
    /// <summary>The state (<c>status</c>).</summary>
    public RegistrationState State { get; init; }

    /// <summary>The status code of the last final answer, 0 before any (<c>last_status_code</c>); 408 for a timeout.</summary>
    public uint LastStatusCode { get; init; }

    /// <summary>The registration time the registrar granted, seconds (<c>granted_expiration</c>); 0 when not registered.</summary>
    public uint GrantedExpiration { get; init; }

    /// <summary>When the binding expires at the registrar (<c>expires_at</c>, Unix seconds); epoch when not registered.</summary>
    public DateTimeOffset ExpiresAt { get; init; } = DateTimeOffset.UnixEpoch;

    /// <summary>When the next REGISTER goes out (<c>next_attempt</c>, Unix seconds); epoch when none is scheduled.</summary>
    public DateTimeOffset NextAttempt { get; init; } = DateTimeOffset.UnixEpoch;

    /// <summary>Retries made since the last success (<c>retries</c>).</summary>
    public uint Retries { get; init; }

    /// <summary>When this status was written (<c>updated_at</c>, Unix seconds).</summary>
    public DateTimeOffset UpdatedAt { get; init; } = DateTimeOffset.UnixEpoch;

    /// <inheritdoc/>
    public override ObjectType ObjectType => Type;

    private static readonly (string, RegistrationState)[] States =
    [
        ("unregistered", RegistrationState.Unregistered), ("registered", RegistrationState.Registered),
        ("retrying", RegistrationState.Retrying), ("rejected", RegistrationState.Rejected), ("stopped", RegistrationState.Stopped),
    ];

    /// <summary>The text of <paramref name="state"/> as stored and shown (<c>registered</c>, <c>rejected</c>, ...).</summary>
    public static string StateName(RegistrationState state) => OptionValues.FormatEnum(state, States);

    private static string FormatUnixTime(DateTimeOffset value) => value.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    /// <summary>The <c>registration_status</c> type.</summary>
    public static ObjectType<RegistrationStatus> Type { get; } = new(
        "registration_status",
        isDynamic: true,
        id => new RegistrationStatus(id),
        o =>
        {
            o.Enum("status", States, s => s.State, (s, v) => s with { State = v });
            o.UInt("last_status_code", s => s.LastStatusCode, (s, v) => s with { LastStatusCode = v }, max: 699);
            o.UInt("granted_expiration", s => s.GrantedExpiration, (s, v) => s with { GrantedExpiration = v });
            o.Custom("expires_at", (s, v) => s with { ExpiresAt = OptionValues.ParseUnixTime(v) }, s => FormatUnixTime(s.ExpiresAt));
            o.Custom("next_attempt", (s, v) => s with { NextAttempt = OptionValues.ParseUnixTime(v) }, s => FormatUnixTime(s.NextAttempt));
            o.UInt("retries", s => s.Retries, (s, v) => s with { Retries = v });
            o.Custom("updated_at", (s, v) => s with { UpdatedAt = OptionValues.ParseUnixTime(v) }, s => FormatUnixTime(s.UpdatedAt));
        },
        validate: null,
        []);
}
