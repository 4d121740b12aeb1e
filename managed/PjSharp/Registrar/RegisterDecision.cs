using System.Diagnostics.CodeAnalysis;
using PjSharp.DataAccess;

namespace PjSharp.Registrar;

/// <summary>The outcome of <see cref="BindingPlanner.Plan"/>: a rejection to answer, or a plan to write and then answer 200.</summary>
public sealed class RegisterDecision
{
    private RegisterDecision(BindingPlan? plan, RegisterRejection? rejection)
    {
        Plan = plan;
        Rejection = rejection;
    }

    /// <summary>True when the request is accepted: write <see cref="Plan"/>, then answer 200 with its bindings.</summary>
    [MemberNotNullWhen(true, nameof(Plan))]
    [MemberNotNullWhen(false, nameof(Rejection))]
    public bool IsAccepted => Plan is not null;

    /// <summary>What to write and answer; null when rejected.</summary>
    public BindingPlan? Plan { get; }

    /// <summary>The final response to send instead; null when accepted. Nothing is to be written.</summary>
    public RegisterRejection? Rejection { get; }

    internal static RegisterDecision Accept(BindingPlan plan) => new(plan, null);

    internal static RegisterDecision Reject(int statusCode, string reasonPhrase, string detail, uint? minExpires = null) =>
        new(null, new RegisterRejection(statusCode, reasonPhrase, detail) { MinExpires = minExpires });
}

/// <summary>A REGISTER refused as a whole.</summary>
/// <param name="StatusCode">400, 403, 420 or 423.</param>
/// <param name="ReasonPhrase">The standard reason phrase.</param>
/// <param name="Detail">Why, for the log (and a Warning header if wanted).</param>
public sealed record RegisterRejection(int StatusCode, string ReasonPhrase, string Detail)
{
    /// <summary>For 423 Interval Too Brief: the Min-Expires header's value.</summary>
    public uint? MinExpires { get; init; }
}

/// <summary>
/// The changes a REGISTER makes to an AOR's bindings, and what the 200 lists. Write <see cref="ToWrites"/> (for example
/// through <see cref="ContactWriter.WriteAsync"/>, which commits them together) before answering.
/// </summary>
public sealed class BindingPlan
{
    internal BindingPlan(
        IReadOnlyList<Contact> added,
        IReadOnlyList<Contact> updated,
        IReadOnlyList<RemovedBinding> removed,
        IReadOnlyList<Contact> stale,
        IReadOnlyList<ContactEntry> skipped,
        IReadOnlyList<RegistrarBinding> bindings,
        IReadOnlyList<string> path,
        uint? expires)
    {
        Added = added;
        Updated = updated;
        Removed = removed;
        Stale = stale;
        Skipped = skipped;
        Bindings = bindings;
        Path = path;
        Expires = expires;
    }

    /// <summary>New bindings, full records (id from <see cref="Contact.CreateId"/> of the AOR and the normalized URI).</summary>
    public IReadOnlyList<Contact> Added { get; }

    /// <summary>Refreshed bindings: the stored record with new expiry and registration details, same id.</summary>
    public IReadOnlyList<Contact> Updated { get; }

    /// <summary>Bindings to delete, each with why.</summary>
    public IReadOnlyList<RemovedBinding> Removed { get; }

    /// <summary>
    /// Stored bindings the request named but may not change: same Call-ID and a CSeq not above the stored one (an
    /// older or repeated request arriving late, RFC 3261 §10.3 step 7). They stay as they are.
    /// </summary>
    public IReadOnlyList<Contact> Stale { get; }

    /// <summary>Contacts that are not <c>sip:</c> or <c>sips:</c> URIs: ignored, as Asterisk does.</summary>
    public IReadOnlyList<ContactEntry> Skipped { get; }

    /// <summary>Every binding of the AOR after the change, with its remaining seconds: the Contact headers of the 200.</summary>
    public IReadOnlyList<RegistrarBinding> Bindings { get; }

    /// <summary>The Path values to copy into the 200 (RFC 3327 §5.3); empty unless the AOR supports Path.</summary>
    public IReadOnlyList<string> Path { get; }

    /// <summary>The 200's Expires header (the request's, clamped as a contact's would be); null when the request had none.</summary>
    public uint? Expires { get; }

    /// <summary>True when there is something to write.</summary>
    public bool HasChanges => Added.Count + Updated.Count + Removed.Count > 0;

    /// <summary>The writes that carry out the plan: deletes, then upserts.</summary>
    public IReadOnlyList<ObjectWrite> ToWrites()
    {
        var writes = new List<ObjectWrite>(Added.Count + Updated.Count + Removed.Count);
        foreach (var removed in Removed)
            writes.Add(ObjectWrite.Delete(removed.Contact));
        foreach (var updated in Updated)
            writes.Add(ObjectWrite.Upsert(updated));
        foreach (var added in Added)
            writes.Add(ObjectWrite.Upsert(added));
        return writes;
    }
}

/// <summary>Why a binding is removed.</summary>
public enum BindingRemovalReason
{
    /// <summary>The request gave it an expiry of 0.</summary>
    Requested,
    /// <summary>The request was <c>Contact: *</c> with <c>Expires: 0</c>.</summary>
    Wildcard,
    /// <summary>The AOR was over <c>max_contacts</c> with <c>remove_existing</c>: the binding that expires soonest goes first.</summary>
    Evicted,
    /// <summary>It had already expired; removed while the AOR is being written anyway.</summary>
    Expired,
}

/// <summary>A binding to delete.</summary>
/// <param name="Contact">The stored record.</param>
/// <param name="Reason">Why it goes.</param>
public sealed record RemovedBinding(Contact Contact, BindingRemovalReason Reason);

/// <summary>A binding listed in the 200: <c>Contact: &lt;Uri&gt;;expires=ExpiresIn</c>.</summary>
/// <param name="Contact">The record as it is after the change.</param>
/// <param name="ExpiresIn">Seconds left, rounded up.</param>
public sealed record RegistrarBinding(Contact Contact, uint ExpiresIn)
{
    /// <summary>The bound URI as the UA registered it.</summary>
    public string Uri => Contact.Uri;
}
