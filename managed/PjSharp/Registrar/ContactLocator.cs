using PjSharp.DataAccess;

namespace PjSharp.Registrar;

/// <summary>The reachable contacts of an AOR: what a call, a MESSAGE or a qualify goes to.</summary>
/// <param name="Aor">The AOR.</param>
/// <param name="Contacts">Its permanent (<c>contact=</c>) and registered, unexpired contacts that are not known to be unreachable.</param>
/// <param name="Unreachable">How many contacts were left out because qualify found them unreachable.</param>
public sealed record AorContacts(Aor Aor, IReadOnlyList<Contact> Contacts, int Unreachable);

/// <summary>
/// Finds where an AOR can be reached: its permanent contacts from configuration and the bindings
/// REGISTER made (from the registrar's memory when it has them, else from the store, so a phone
/// registered through another node is found too). Expired bindings and contacts that qualify marked
/// unreachable are left out.
/// </summary>
public sealed class ContactLocator
{
    private readonly ObjectStore _store;
    private readonly TimeProvider _time;

    public ContactLocator(ObjectStore store, RegistrarService? registrar = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        Registrar = registrar;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The registrar whose bindings in memory spare a database read; null reads the store.</summary>
    public RegistrarService? Registrar { get; set; }

    /// <summary>Whether a contact may be used; qualify sets it. Unset, every contact may.</summary>
    public Func<Contact, bool>? IsReachable { get; set; }

    /// <summary>The AOR named <paramref name="aorId"/> with its usable contacts; null when there is no such AOR.</summary>
    public async ValueTask<AorContacts?> FindAsync(string aorId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(aorId);
        var aor = await _store.GetAsync<Aor>(aorId, cancellationToken).ConfigureAwait(false);
        if (aor == null)
            return null;
        var all = new List<Contact>();
        foreach (var uri in aor.Contacts)
            all.Add(Permanent(aor, uri));
        if (Registrar is { } registrar && registrar.TryGetBindings(aor.Id, out var known))
            all.AddRange(known);
        else if (_store.MappedTypes.Contains(Contact.Type))
            all.AddRange(await _store.FindByPrefixAsync<Contact>(Contact.IdPrefix(aor.Id), cancellationToken).ConfigureAwait(false));
        var now = _time.GetUtcNow();
        var reachable = IsReachable;
        var usable = new List<Contact>(all.Count);
        var unreachable = 0;
        foreach (var contact in all)
        {
            if (contact.ExpirationTime != DateTimeOffset.UnixEpoch && contact.ExpirationTime <= now)
                continue;
            if (reachable != null && !reachable(contact))
            {
                unreachable++;
                continue;
            }
            usable.Add(contact);
        }
        return new AorContacts(aor, usable, unreachable);
    }

    /// <summary>A permanent contact as a contact object: it never expires and qualifies at its AOR's settings.</summary>
    public static Contact Permanent(Aor aor, string uri)
    {
        ArgumentNullException.ThrowIfNull(aor);
        ArgumentException.ThrowIfNullOrEmpty(uri);
        return new Contact(Contact.CreateId(aor.Id, uri))
        {
            Uri = uri,
            Aor = aor.Id,
            QualifyFrequency = aor.QualifyFrequency,
            QualifyTimeout = aor.QualifyTimeout,
            AuthenticateQualify = aor.AuthenticateQualify,
            OutboundProxy = aor.OutboundProxy,
        };
    }
}
