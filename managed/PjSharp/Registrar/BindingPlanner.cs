using System.Globalization;
using PjSharp.DataAccess;

namespace PjSharp.Registrar;

/// <summary>
/// The registrar's decision for one REGISTER (RFC 3261 §10.3 and Asterisk's res_pjsip_registrar), as a pure function
/// of the AOR's settings, its stored bindings, the request and the time: nothing is read or written here. Run it on
/// the AOR's servant, so two REGISTERs for one AOR never plan from the same stored state.
/// </summary>
/// <remarks>
/// <para>Rules, in the order they are checked:</para>
/// <list type="number">
/// <item>An AOR with <c>max_contacts=0</c> takes no registrations: 403 (as Asterisk).</item>
/// <item><c>*</c> must be the only Contact and come with <c>Expires: 0</c>: otherwise 400.</item>
/// <item>With <c>support_path</c>, a request carrying Path must list <c>path</c> in Supported: otherwise 420 (as
/// Asterisk). Without <c>support_path</c>, Path is ignored.</item>
/// <item>Each contact's expiry is its <c>expires</c> parameter, else the Expires header, else
/// <c>default_expiration</c>. An expiry asked for (parameter or header) that is not 0 and below
/// <c>minimum_expiration</c> gets 423 with Min-Expires. A larger one is cut to <c>maximum_expiration</c>; the default
/// is kept within the minimum and maximum. A maximum below the minimum is read as the minimum.</item>
/// <item>Contacts that are not <c>sip:</c>/<c>sips:</c> URIs are skipped. A URI named twice counts once, with the
/// later value. URIs are compared by <see cref="ContactUri"/>.</item>
/// <item>A named binding that exists with the request's Call-ID and a CSeq not below the request's is left unchanged
/// (<see cref="BindingPlan.Stale"/>; the request is otherwise applied). Otherwise expiry 0 removes it (nothing to do
/// when it does not exist) and any other expiry refreshes it or adds it.</item>
/// <item>The wildcard removes every binding, except stale ones as above.</item>
/// <item>If the bindings would then exceed <c>max_contacts</c>: with <c>remove_existing</c>, bindings the request did
/// not name are removed, soonest expiring first, until they fit; if they still do not fit and the request adds a
/// binding, 403. A request that only refreshes or removes is never refused for the count (the limit may have been
/// lowered since).</item>
/// <item>Bindings already expired at <paramref name="now"/> are not counted and are removed.</item>
/// </list>
/// <para>Expiration times are whole seconds (as stored): <c>now</c>, rounded down, plus the expiry.</para>
/// </remarks>
public static class BindingPlanner
{
    /// <summary>Decides what <paramref name="request"/> does to the bindings of <paramref name="aor"/>.</summary>
    /// <param name="aor">The AOR's settings.</param>
    /// <param name="current">Its stored bindings (contacts with its id prefix), expired ones included.</param>
    /// <param name="request">The REGISTER's contents.</param>
    /// <param name="now">The current time.</param>
    public static RegisterDecision Plan(Aor aor, IReadOnlyList<Contact> current, RegisterRequest request, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(aor);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(request);

        if (aor.MaxContacts == 0)
            return RegisterDecision.Reject(403, "Forbidden", $"AOR '{aor.Id}' takes no registrations (max_contacts is 0)");

        var wildcard = false;
        foreach (var entry in request.Contacts)
            wildcard |= entry.IsWildcard;
        if (wildcard && request.Contacts.Count > 1)
            return RegisterDecision.Reject(400, "Bad Request", "Contact '*' must be the only contact");
        if (wildcard && request.Expires != 0)
            return RegisterDecision.Reject(400, "Bad Request", "Contact '*' needs 'Expires: 0'");

        List<string> path = aor.SupportPath ? request.Path.Select(p => p.Trim()).Where(p => p.Length > 0).ToList() : [];
        if (path.Count > 0 && !ListsOptionTag(request.Supported, "path"))
            return RegisterDecision.Reject(420, "Bad Extension", "Path header without 'Supported: path'");

        var minimum = aor.MinimumExpiration;
        var maximum = Math.Max(aor.MaximumExpiration, Math.Max(minimum, 1));

        // What the request asks for each URI, in first-seen order; a later duplicate overrides the earlier one.
        var asked = new Dictionary<string, (ContactEntry Entry, uint Expiry)>(StringComparer.Ordinal);
        var order = new List<string>();
        var skipped = new List<ContactEntry>();
        foreach (var entry in request.Contacts)
        {
            if (entry.IsWildcard)
                continue;
            if (!ContactUri.IsSipOrSips(entry.Uri))
            {
                skipped.Add(entry);
                continue;
            }
            uint expiry;
            if ((entry.Expires ?? request.Expires) is { } requested)
            {
                if (requested != 0 && requested < minimum)
                {
                    return RegisterDecision.Reject(423, "Interval Too Brief",
                        string.Create(CultureInfo.InvariantCulture, $"expiry {requested} s for '{entry.Uri}' is below the minimum of {minimum} s"), minimum);
                }
                expiry = Math.Min(requested, maximum);
            }
            else
            {
                expiry = Math.Clamp(aor.DefaultExpiration, Math.Max(minimum, 1), maximum);
            }
            var key = ContactUri.Normalize(entry.Uri);
            if (!asked.ContainsKey(key))
                order.Add(key);
            asked[key] = (entry, expiry);
        }

        var nowSeconds = now.ToUnixTimeSeconds();
        var live = new List<Contact>();
        var removed = new List<RemovedBinding>();
        var byUri = new Dictionary<string, Contact>(StringComparer.Ordinal);
        foreach (var contact in current)
        {
            if (contact.ExpirationTime > now)
            {
                live.Add(contact);
                byUri.TryAdd(ContactUri.Normalize(contact.Uri), contact);
            }
            else
            {
                removed.Add(new RemovedBinding(contact, BindingRemovalReason.Expired));
            }
        }
        var expiredByUri = new Dictionary<string, Contact>(StringComparer.Ordinal);
        foreach (var gone in removed)
            expiredByUri.TryAdd(ContactUri.Normalize(gone.Contact.Uri), gone.Contact);

        var added = new List<Contact>();
        var updated = new List<Contact>();
        var updatedById = new Dictionary<string, Contact>(StringComparer.Ordinal);
        var stale = new List<Contact>();
        var named = new HashSet<string>(StringComparer.Ordinal); // ids the request touched
        var removedIds = new HashSet<string>(StringComparer.Ordinal);

        foreach (var key in order)
        {
            var (entry, expiry) = asked[key];
            if (byUri.TryGetValue(key, out var existing))
            {
                named.Add(existing.Id);
                if (IsStale(existing, request))
                {
                    stale.Add(existing);
                }
                else if (expiry == 0)
                {
                    removed.Add(new RemovedBinding(existing, BindingRemovalReason.Requested));
                    removedIds.Add(existing.Id);
                }
                else
                {
                    var refreshed = Bind(existing, aor, entry, expiry, request, path, nowSeconds);
                    updated.Add(refreshed);
                    updatedById.Add(existing.Id, refreshed);
                }
                continue;
            }
            if (expiry == 0)
                continue;
            // An expired record of the same URI is reused rather than deleted, so its id does not change.
            if (expiredByUri.TryGetValue(key, out var expired))
            {
                removed.RemoveAll(r => ReferenceEquals(r.Contact, expired));
                added.Add(Bind(expired, aor, entry, expiry, request, path, nowSeconds));
            }
            else
            {
                added.Add(Bind(new Contact(Contact.CreateId(aor.Id, key)), aor, entry, expiry, request, path, nowSeconds));
            }
        }

        if (wildcard)
        {
            foreach (var contact in live)
            {
                named.Add(contact.Id);
                if (IsStale(contact, request))
                {
                    stale.Add(contact);
                }
                else
                {
                    removed.Add(new RemovedBinding(contact, BindingRemovalReason.Wildcard));
                    removedIds.Add(contact.Id);
                }
            }
        }

        var count = live.Count - removedIds.Count + added.Count;
        if (count > aor.MaxContacts)
        {
            if (aor.RemoveExisting)
            {
                var candidates = live.Where(c => !named.Contains(c.Id))
                    .OrderBy(c => c.ExpirationTime)
                    .ThenBy(c => c.Id, StringComparer.Ordinal);
                foreach (var victim in candidates)
                {
                    if (count <= aor.MaxContacts)
                        break;
                    removed.Add(new RemovedBinding(victim, BindingRemovalReason.Evicted));
                    removedIds.Add(victim.Id);
                    count--;
                }
            }
            if (count > aor.MaxContacts && added.Count > 0)
            {
                return RegisterDecision.Reject(403, "Forbidden", string.Create(CultureInfo.InvariantCulture,
                    $"AOR '{aor.Id}' would have {count} contacts, more than max_contacts {aor.MaxContacts}"));
            }
        }

        var bindings = new List<RegistrarBinding>(count);
        foreach (var contact in live)
        {
            if (!removedIds.Contains(contact.Id))
                bindings.Add(Listed(updatedById.GetValueOrDefault(contact.Id, contact), now));
        }
        foreach (var contact in added)
            bindings.Add(Listed(contact, now));

        uint? responseExpires = request.Expires is { } header ? header == 0 ? 0 : Math.Min(header, maximum) : null;
        return RegisterDecision.Accept(new BindingPlan(added, updated, removed, stale, skipped, bindings, path, responseExpires));
    }

    // RFC 3261 §10.3 step 7: the same Call-ID with a CSeq that is not higher means an older request.
    private static bool IsStale(Contact existing, RegisterRequest request) =>
        string.Equals(existing.CallId, request.CallId, StringComparison.Ordinal) && request.CSeq <= existing.CSeq;

    private static Contact Bind(Contact record, Aor aor, ContactEntry entry, uint expiry, RegisterRequest request, IReadOnlyList<string> path, long nowSeconds) =>
        record with
        {
            Uri = entry.Uri,
            Aor = aor.Id,
            Endpoint = request.Endpoint,
            ExpirationTime = DateTimeOffset.FromUnixTimeSeconds(nowSeconds + expiry),
            Path = string.Join(",", path),
            UserAgent = request.UserAgent,
            ViaAddress = request.ViaAddress,
            ViaPort = request.ViaPort,
            CallId = request.CallId,
            CSeq = request.CSeq,
            RegistrationServer = request.RegistrationServer,
            QualifyFrequency = aor.QualifyFrequency,
            QualifyTimeout = aor.QualifyTimeout,
            AuthenticateQualify = aor.AuthenticateQualify,
            OutboundProxy = aor.OutboundProxy,
            PruneOnBoot = request.PruneOnBoot,
        };

    private static RegistrarBinding Listed(Contact contact, DateTimeOffset now) =>
        new(contact, (uint)Math.Min(Math.Ceiling((contact.ExpirationTime - now).TotalSeconds), uint.MaxValue));

    private static bool ListsOptionTag(IReadOnlyList<string> values, string tag)
    {
        foreach (var value in values)
        {
            foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (part.Equals(tag, StringComparison.OrdinalIgnoreCase))
                    return true;
            }
        }
        return false;
    }
}
