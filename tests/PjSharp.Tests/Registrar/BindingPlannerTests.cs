using PjSharp.DataAccess;
using PjSharp.Registrar;

namespace PjSharp.Tests.Registrar;

public sealed class BindingPlannerTests
{
    // A quarter second past a whole second: expiration times are whole seconds, remaining seconds round up.
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, 250, TimeSpan.Zero);
    private static readonly DateTimeOffset NowSeconds = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static Aor Alice(uint maxContacts = 3, bool removeExisting = false) => new("alice")
    {
        MaxContacts = maxContacts,
        RemoveExisting = removeExisting,
        MinimumExpiration = 60,
        DefaultExpiration = 3600,
        MaximumExpiration = 7200,
        QualifyFrequency = 30,
        QualifyTimeout = 2.5,
        AuthenticateQualify = true,
        OutboundProxy = "sip:proxy.example.com;lr",
    };

    private static RegisterRequest Request(params ContactEntry[] contacts) => new()
    {
        Contacts = contacts,
        CallId = "call-1",
        CSeq = 10,
        UserAgent = "Phone/2.0",
        ViaAddress = "198.51.100.7",
        ViaPort = 5062,
        Endpoint = "alice-ep",
        RegistrationServer = "node-a",
    };

    private static ContactEntry Entry(string uri, uint? expires = null) => new(uri) { Expires = expires };

    private static Contact Stored(string uri, int secondsLeft, string callId = "old-call", uint cseq = 1) =>
        new(Contact.CreateId("alice", ContactUri.Normalize(uri)))
        {
            Uri = uri,
            Aor = "alice",
            Endpoint = "alice-ep",
            ExpirationTime = NowSeconds.AddSeconds(secondsLeft),
            CallId = callId,
            CSeq = cseq,
            UserAgent = "Phone/1.0",
        };

    private static BindingPlan Accepted(RegisterDecision decision)
    {
        Assert.That(decision.IsAccepted, Is.True, () => decision.Rejection!.Detail);
        return decision.Plan!;
    }

    private static RegisterRejection Rejected(RegisterDecision decision, int status)
    {
        Assert.That(decision.IsAccepted, Is.False);
        Assert.That(decision.Rejection!.StatusCode, Is.EqualTo(status), decision.Rejection.Detail);
        return decision.Rejection;
    }

    private static string[] Listed(BindingPlan plan) => plan.Bindings.Select(b => $"{b.Uri} {b.ExpiresIn}").ToArray();

    [Test]
    public void A_new_contact_becomes_a_full_record_and_is_listed()
    {
        var request = Request(Entry("sip:alice@198.51.100.7:5062;transport=udp")) with { PruneOnBoot = true };
        var plan = Accepted(BindingPlanner.Plan(Alice(), [], request, Now));

        var added = plan.Added.Single();
        Assert.That(added, Is.EqualTo(new Contact(Contact.CreateId("alice", "sip:alice@198.51.100.7:5062;transport=udp"))
        {
            Uri = "sip:alice@198.51.100.7:5062;transport=udp",
            Aor = "alice",
            Endpoint = "alice-ep",
            ExpirationTime = NowSeconds.AddSeconds(3600),
            UserAgent = "Phone/2.0",
            ViaAddress = "198.51.100.7",
            ViaPort = 5062,
            CallId = "call-1",
            CSeq = 10,
            RegistrationServer = "node-a",
            QualifyFrequency = 30,
            QualifyTimeout = 2.5,
            AuthenticateQualify = true,
            OutboundProxy = "sip:proxy.example.com;lr",
            PruneOnBoot = true,
        }));
        Assert.That(plan.Updated, Is.Empty);
        Assert.That(plan.Removed, Is.Empty);
        Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:alice@198.51.100.7:5062;transport=udp 3600" }));
        Assert.That(plan.ToWrites(), Is.EqualTo(new[] { ObjectWrite.Upsert(added) }));
        Assert.That(plan.HasChanges, Is.True);
    }

    [Test]
    public void The_id_comes_from_the_normalized_uri_and_the_record_keeps_the_uri_as_sent()
    {
        var plan = Accepted(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:alice@PHONE.example.com")), Now));
        Assert.That(plan.Added.Single().Id, Is.EqualTo(Contact.CreateId("alice", "sip:alice@phone.example.com")));
        Assert.That(plan.Added.Single().Uri, Is.EqualTo("sip:alice@PHONE.example.com"));
    }

    [Test]
    public void Expiry_is_the_parameter_else_the_header_else_the_default()
    {
        var request = Request(Entry("sip:a@h", 120), Entry("sip:b@h")) with { Expires = 300 };
        Assert.That(Listed(Accepted(BindingPlanner.Plan(Alice(), [], request, Now))), Is.EqualTo(new[] { "sip:a@h 120", "sip:b@h 300" }));
        Assert.That(Listed(Accepted(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:c@h")), Now))), Is.EqualTo(new[] { "sip:c@h 3600" }));
    }

    [Test]
    public void Expiry_above_the_maximum_is_cut_to_the_maximum_and_so_is_the_answer_s_expires()
    {
        var request = Request(Entry("sip:a@h", 100_000), Entry("sip:b@h")) with { Expires = uint.MaxValue };
        var plan = Accepted(BindingPlanner.Plan(Alice(), [], request, Now));
        Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:a@h 7200", "sip:b@h 7200" }));
        Assert.That(plan.Expires, Is.EqualTo(7200));
        Assert.That(Accepted(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:a@h")), Now)).Expires, Is.Null, "no Expires asked, none answered");
    }

    [Test]
    public void A_non_zero_expiry_below_the_minimum_is_423_with_min_expires()
    {
        var byParameter = Rejected(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:a@h", 3600), Entry("sip:b@h", 59)), Now), 423);
        Assert.That(byParameter.MinExpires, Is.EqualTo(60));
        Assert.That(byParameter.ReasonPhrase, Is.EqualTo("Interval Too Brief"));
        Assert.That(byParameter.Detail, Does.Contain("sip:b@h").And.Contain("59"));
        var byHeader = Rejected(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:a@h")) with { Expires = 1 }, Now), 423);
        Assert.That(byHeader.MinExpires, Is.EqualTo(60));
        Assert.That(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:a@h", 60)), Now).IsAccepted, Is.True, "the minimum itself is fine");
        Assert.That(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:a@h", 0)), Now).IsAccepted, Is.True, "0 is a removal, not an interval");
    }

    [Test]
    public void A_default_outside_the_limits_is_brought_inside_them()
    {
        Assert.That(Listed(Accepted(BindingPlanner.Plan(Alice() with { DefaultExpiration = 10 }, [], Request(Entry("sip:a@h")), Now))), Is.EqualTo(new[] { "sip:a@h 60" }));
        Assert.That(Listed(Accepted(BindingPlanner.Plan(Alice() with { DefaultExpiration = 0 }, [], Request(Entry("sip:a@h")), Now))), Is.EqualTo(new[] { "sip:a@h 60" }));
        Assert.That(Listed(Accepted(BindingPlanner.Plan(Alice() with { DefaultExpiration = 99_999 }, [], Request(Entry("sip:a@h")), Now))), Is.EqualTo(new[] { "sip:a@h 7200" }));
    }

    [Test]
    public void A_refresh_keeps_the_stored_id_and_renews_the_registration_details()
    {
        var stored = Stored("sip:alice@PHONE.example.com;transport=TCP", 100) with { QualifyFrequency = 5, Path = "<sip:old;lr>" };
        var plan = Accepted(BindingPlanner.Plan(Alice(), [stored], Request(Entry("sip:alice@phone.example.com;transport=tcp", 1800)), Now));
        var updated = plan.Updated.Single();
        Assert.That(updated.Id, Is.EqualTo(stored.Id), "matched by URI equality, so the same binding");
        Assert.That(updated.Uri, Is.EqualTo("sip:alice@phone.example.com;transport=tcp"));
        Assert.That(updated.ExpirationTime, Is.EqualTo(NowSeconds.AddSeconds(1800)));
        Assert.That((updated.CallId, updated.CSeq, updated.UserAgent, updated.QualifyFrequency, updated.Path), Is.EqualTo(("call-1", 10u, "Phone/2.0", 30u, "")));
        Assert.That(plan.Added, Is.Empty);
        Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:alice@phone.example.com;transport=tcp 1800" }));
    }

    [Test]
    public void Expiry_zero_removes_a_binding_and_removing_an_unknown_one_is_forgiven()
    {
        var stored = Stored("sip:a@h", 100);
        var other = Stored("sip:b@h", 200);
        var plan = Accepted(BindingPlanner.Plan(Alice(), [stored, other], Request(Entry("sip:a@h", 0), Entry("sip:nobody@h")) with { Expires = 0 }, Now));
        Assert.That(plan.Removed, Is.EqualTo(new[] { new RemovedBinding(stored, BindingRemovalReason.Requested) }));
        Assert.That(plan.Added, Is.Empty);
        Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:b@h 200" }));
        Assert.That(plan.Expires, Is.Zero);
        Assert.That(plan.ToWrites(), Is.EqualTo(new[] { ObjectWrite.Delete(stored) }));
    }

    [Test]
    public void The_wildcard_with_expires_zero_removes_every_binding()
    {
        var a = Stored("sip:a@h", 100);
        var b = Stored("sip:b@h", 200);
        var plan = Accepted(BindingPlanner.Plan(Alice(), [a, b], Request(ContactEntry.Wildcard) with { Expires = 0 }, Now));
        Assert.That(plan.Removed, Is.EqualTo(new[] { new RemovedBinding(a, BindingRemovalReason.Wildcard), new RemovedBinding(b, BindingRemovalReason.Wildcard) }));
        Assert.That(plan.Bindings, Is.Empty);
    }

    [Test]
    public void The_wildcard_without_expires_zero_is_400()
    {
        Assert.That(Rejected(BindingPlanner.Plan(Alice(), [], Request(ContactEntry.Wildcard), Now), 400).Detail, Does.Contain("Expires: 0"));
        Rejected(BindingPlanner.Plan(Alice(), [], Request(ContactEntry.Wildcard) with { Expires = 3600 }, Now), 400);
    }

    [Test]
    public void The_wildcard_with_other_contacts_is_400()
    {
        var first = Rejected(BindingPlanner.Plan(Alice(), [], Request(ContactEntry.Wildcard, Entry("sip:a@h")) with { Expires = 0 }, Now), 400);
        Assert.That(first.Detail, Does.Contain("only contact"));
        Rejected(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:a@h"), ContactEntry.Wildcard) with { Expires = 0 }, Now), 400);
    }

    [Test]
    public void Exceeding_max_contacts_without_remove_existing_is_403()
    {
        Contact[] full = [Stored("sip:a@h", 100), Stored("sip:b@h", 200)];
        var rejection = Rejected(BindingPlanner.Plan(Alice(maxContacts: 2), full, Request(Entry("sip:c@h")), Now), 403);
        Assert.That(rejection.Detail, Does.Contain("max_contacts 2"));
        Assert.That(Accepted(BindingPlanner.Plan(Alice(maxContacts: 2), full, Request(Entry("sip:a@h")), Now)).Updated, Has.Count.EqualTo(1), "a refresh at the limit is fine");
        var swap = Accepted(BindingPlanner.Plan(Alice(maxContacts: 2), full, Request(Entry("sip:a@h", 0), Entry("sip:c@h")), Now));
        Assert.That(Listed(swap), Is.EqualTo(new[] { "sip:b@h 200", "sip:c@h 3600" }), "a removal makes room in the same request");
    }

    [Test]
    public void Refreshing_while_over_a_lowered_limit_is_not_refused()
    {
        Contact[] over = [Stored("sip:a@h", 100), Stored("sip:b@h", 200), Stored("sip:c@h", 300)];
        var plan = Accepted(BindingPlanner.Plan(Alice(maxContacts: 1), over, Request(Entry("sip:b@h")), Now));
        Assert.That(plan.Updated.Single().Uri, Is.EqualTo("sip:b@h"));
        Assert.That(plan.Bindings, Has.Count.EqualTo(3));
    }

    [Test]
    public void Remove_existing_evicts_the_soonest_expiring_bindings_the_request_did_not_name()
    {
        var soon = Stored("sip:soon@h", 50);
        var later = Stored("sip:later@h", 500);
        var named = Stored("sip:named@h", 10);
        var plan = Accepted(BindingPlanner.Plan(Alice(maxContacts: 2, removeExisting: true), [later, soon, named], Request(Entry("sip:named@h"), Entry("sip:new@h")), Now));
        Assert.That(plan.Removed, Is.EqualTo(new[] { new RemovedBinding(soon, BindingRemovalReason.Evicted), new RemovedBinding(later, BindingRemovalReason.Evicted) }));
        Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:named@h 3600", "sip:new@h 3600" }));

        var one = Accepted(BindingPlanner.Plan(Alice(maxContacts: 2, removeExisting: true), [later, soon], Request(Entry("sip:new@h")), Now));
        Assert.That(one.Removed, Is.EqualTo(new[] { new RemovedBinding(soon, BindingRemovalReason.Evicted) }), "only as many as needed, soonest first");
        Assert.That(one.ToWrites().Select(w => w.Kind), Is.EqualTo(new[] { ObjectWriteKind.Delete, ObjectWriteKind.Upsert }));
    }

    [Test]
    public void Remove_existing_cannot_help_a_request_that_alone_exceeds_the_limit()
    {
        Rejected(BindingPlanner.Plan(Alice(maxContacts: 1, removeExisting: true), [Stored("sip:a@h", 100)], Request(Entry("sip:b@h"), Entry("sip:c@h")), Now), 403);
    }

    [Test]
    public void An_aor_with_max_contacts_zero_takes_no_registrations()
    {
        Assert.That(Rejected(BindingPlanner.Plan(Alice(maxContacts: 0), [], Request(Entry("sip:a@h")), Now), 403).Detail, Does.Contain("max_contacts is 0"));
    }

    [Test]
    public void The_same_call_id_with_a_cseq_not_higher_is_stale_and_changes_nothing()
    {
        var stored = Stored("sip:a@h", 100, callId: "call-1", cseq: 10);
        foreach (var request in new[] { Request(Entry("sip:a@h", 0)), Request(Entry("sip:a@h", 600)) with { CSeq = 9 } })
        {
            var plan = Accepted(BindingPlanner.Plan(Alice(), [stored], request, Now));
            Assert.That(plan.Stale, Is.EqualTo(new[] { stored }));
            Assert.That(plan.HasChanges, Is.False);
            Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:a@h 100" }), "listed as stored");
        }
        Assert.That(Accepted(BindingPlanner.Plan(Alice(), [stored], Request(Entry("sip:a@h", 0)) with { CSeq = 11 }, Now)).Removed, Has.Count.EqualTo(1), "a higher CSeq applies");
        Assert.That(Accepted(BindingPlanner.Plan(Alice(), [stored], Request(Entry("sip:a@h", 600)) with { CallId = "call-2", CSeq = 1 }, Now)).Updated, Has.Count.EqualTo(1),
            "another Call-ID applies whatever its CSeq");
    }

    [Test]
    public void The_wildcard_spares_stale_bindings()
    {
        var stale = Stored("sip:a@h", 100, callId: "call-1", cseq: 10);
        var other = Stored("sip:b@h", 100);
        var plan = Accepted(BindingPlanner.Plan(Alice(), [stale, other], Request(ContactEntry.Wildcard) with { Expires = 0 }, Now));
        Assert.That(plan.Stale, Is.EqualTo(new[] { stale }));
        Assert.That(plan.Removed.Select(r => r.Contact), Is.EqualTo(new[] { other }));
    }

    [Test]
    public void Expired_bindings_do_not_count_and_are_removed_or_reused()
    {
        var expired = Stored("sip:gone@h", 0);
        var alsoExpired = Stored("sip:back@h", -30);
        var live = Stored("sip:live@h", 100);
        var plan = Accepted(BindingPlanner.Plan(Alice(maxContacts: 2), [expired, alsoExpired, live], Request(Entry("sip:back@h")), Now));
        Assert.That(plan.Removed, Is.EqualTo(new[] { new RemovedBinding(expired, BindingRemovalReason.Expired) }));
        Assert.That(plan.Added.Single().Id, Is.EqualTo(alsoExpired.Id), "re-registering an expired URI reuses its record");
        Assert.That(plan.Added.Single().ExpirationTime, Is.EqualTo(NowSeconds.AddSeconds(3600)));
        Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:live@h 100", "sip:back@h 3600" }));
    }

    [Test]
    public void A_query_lists_the_bindings_with_remaining_seconds_rounded_up()
    {
        var plan = Accepted(BindingPlanner.Plan(Alice(), [Stored("sip:a@h", 100), Stored("sip:b@h", 1)], Request(), Now));
        Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:a@h 100", "sip:b@h 1" }), "0.75 s left is listed as 1, never as 0");
        Assert.That(plan.HasChanges, Is.False);
        Assert.That(plan.ToWrites(), Is.Empty);
    }

    [Test]
    public void Non_sip_contacts_are_skipped()
    {
        var tel = Entry("tel:+15550100");
        var plan = Accepted(BindingPlanner.Plan(Alice(), [], Request(tel, Entry("sip:a@h")), Now));
        Assert.That(plan.Skipped, Is.EqualTo(new[] { tel }));
        Assert.That(plan.Added.Select(c => c.Uri), Is.EqualTo(new[] { "sip:a@h" }));
    }

    [Test]
    public void A_uri_named_twice_counts_once_with_the_later_value()
    {
        var plan = Accepted(BindingPlanner.Plan(Alice(maxContacts: 1), [], Request(Entry("sip:a@h", 120), Entry("sip:a@H", 240)), Now));
        Assert.That(plan.Added, Has.Count.EqualTo(1));
        Assert.That(Listed(plan), Is.EqualTo(new[] { "sip:a@H 240" }));
        Assert.That(Accepted(BindingPlanner.Plan(Alice(), [], Request(Entry("sip:a@h", 120), Entry("sip:a@h", 0)), Now)).Added, Is.Empty);
    }

    [Test]
    public void Path_is_kept_and_returned_only_when_the_aor_supports_it_and_the_ua_does_too()
    {
        var request = Request(Entry("sip:a@h")) with { Path = ["<sip:edge1.example.com;lr>", " <sip:edge2.example.com;lr> "], Supported = ["outbound, path"] };
        var plan = Accepted(BindingPlanner.Plan(Alice() with { SupportPath = true }, [], request, Now));
        Assert.That(plan.Added.Single().Path, Is.EqualTo("<sip:edge1.example.com;lr>,<sip:edge2.example.com;lr>"));
        Assert.That(plan.Path, Is.EqualTo(new[] { "<sip:edge1.example.com;lr>", "<sip:edge2.example.com;lr>" }));

        var ignored = Accepted(BindingPlanner.Plan(Alice(), [], request, Now));
        Assert.That(ignored.Added.Single().Path, Is.Empty);
        Assert.That(ignored.Path, Is.Empty);

        var unsupported = Rejected(BindingPlanner.Plan(Alice() with { SupportPath = true }, [], request with { Supported = ["outbound"] }, Now), 420);
        Assert.That(unsupported.Detail, Does.Contain("Supported: path"));
    }
}
