using System.Diagnostics;
using System.Net;
using PjSharp.DataAccess;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Qualify;

/// <summary>Qualify through AddPjSharp in this process: OPTIONS to real peers (SIPp, UDP sockets) over loopback.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class QualifyTests
{
    private static string Uri(string user, IPEndPoint at) => $"sip:{user}@127.0.0.1:{at.Port}";

    [Test]
    public async Task Contact_answering_options_becomes_reachable_with_a_round_trip_time()
    {
        SipTestServer.RequireSipp();
        await using var sipp = await SippCallee.StartAsync("options-uas.xml", "127.0.0.1:9", TimeSpan.FromSeconds(30), calls: 100);
        var uri = $"sip:bob@127.0.0.1:{sipp.Port}";
        await using var host = await ReachTestHost.StartAsync(
            new Aor("bob") { Contacts = [.. new[] { uri }], QualifyFrequency = 1, QualifyTimeout = 2 });
        var id = Contact.CreateId("bob", uri);

        var status = await host.WaitForStatusAsync(id, s => s?.Status == ContactReachability.Reachable, TimeSpan.FromSeconds(10));

        Assert.That(status?.Status, Is.EqualTo(ContactReachability.Reachable), "SIPp answers 200");
        Assert.That(status!.RoundTripMicroseconds, Is.GreaterThan(0UL).And.LessThan(2_000_000UL));
        Assert.That(status.Aor, Is.EqualTo("bob"));
        Assert.That(status.Uri, Is.EqualTo(uri));
        var found = await host.Server.Contacts.FindAsync("bob");
        Assert.That(found!.Contacts.Select(c => c.Uri), Is.EqualTo(new[] { uri }));
    }

    [Test]
    public async Task Silent_contact_becomes_unreachable_in_time_is_left_out_and_comes_back_when_it_answers()
    {
        // A bound socket that reads OPTIONS but answers only when told.
        using var peer = new SipPhone(new IPEndPoint(IPAddress.Loopback, 9), "carol", "unused");
        var uri = Uri("carol", peer.Local);
        var clock = Stopwatch.StartNew();
        await using var host = await ReachTestHost.StartAsync(
            new Aor("carol") { Contacts = [.. new[] { uri }], QualifyFrequency = 1, QualifyTimeout = 0.5 });
        var id = Contact.CreateId("carol", uri);

        var status = await host.WaitForStatusAsync(id, s => s?.Status == ContactReachability.Unreachable, TimeSpan.FromSeconds(10));

        Assert.That(status?.Status, Is.EqualTo(ContactReachability.Unreachable));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1 + 0.5 + 2)), "within qualify_frequency + qualify_timeout (and start-up)");
        Assert.That(await peer.ReceiveRequestAsync("OPTIONS", TimeSpan.FromSeconds(3)), Is.Not.Null, "the contact was sent OPTIONS");
        var found = await host.Server.Contacts.FindAsync("carol");
        Assert.That(found!.Contacts, Is.Empty, "an unreachable contact is not used");
        Assert.That(found.Unreachable, Is.EqualTo(1));

        // Now it answers (even 404 counts: the phone is there): reachable again and used again.
        using var answering = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var answerer = Task.Run(async () =>
        {
            while (!answering.IsCancellationRequested)
            {
                if (await peer.ReceiveRequestAsync("OPTIONS", TimeSpan.FromMilliseconds(500)) is { } options)
                    await peer.ReplyAsync(options, 404, "Not Found");
            }
        });
        status = await host.WaitForStatusAsync(id, s => s?.Status == ContactReachability.Reachable, TimeSpan.FromSeconds(8));
        await answering.CancelAsync();
        await answerer;
        Assert.That(status?.Status, Is.EqualTo(ContactReachability.Reachable));
        Assert.That((await host.Server.Contacts.FindAsync("carol"))!.Contacts.Select(c => c.Uri), Is.EqualTo(new[] { uri }));
    }

    [Test]
    public async Task Registered_contact_is_qualified_at_once_and_its_status_goes_when_it_unregisters()
    {
        // A long period: only the qualify made on registration can reach the phone within the test's wait.
        await using var host = await ReachTestHost.StartAsync(ReachTestHost.Phone("alice", qualifyFrequency: 300, qualifyTimeout: 1));
        using var alice = new SipPhone(host.Udp, "alice", "secret-alice");
        var id = Contact.CreateId("alice", alice.ContactUri);

        var clock = Stopwatch.StartNew();
        Assert.That(SipWire.StatusOf(await alice.RegisterAsync(expires: 60)), Is.EqualTo(200));
        var options = await alice.ReceiveRequestAsync("OPTIONS", TimeSpan.FromSeconds(3));
        Assert.That(options, Is.Not.Null, "a new binding is qualified soon after registration");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)));
        await alice.ReplyAsync(options!.Value);
        var status = await host.WaitForStatusAsync(id, s => s?.Status == ContactReachability.Reachable, TimeSpan.FromSeconds(5));
        Assert.That(status?.Status, Is.EqualTo(ContactReachability.Reachable));

        Assert.That(SipWire.StatusOf(await alice.RegisterAsync(expires: 0)), Is.EqualTo(200));
        status = await host.WaitForStatusAsync(id, s => s == null, TimeSpan.FromSeconds(5));
        Assert.That(status, Is.Null, "the status of a removed binding is removed");
        Assert.That(await alice.ReceiveRequestAsync("OPTIONS", TimeSpan.FromSeconds(1)), Is.Null, "no more OPTIONS to it");
    }
}
