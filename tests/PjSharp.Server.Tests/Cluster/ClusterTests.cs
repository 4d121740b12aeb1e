using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using PjSharp.DataAccess;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Cluster;

/// <summary>
/// Two <c>pjsharp serve</c> nodes behind Kamailio on one PostgreSQL (deploy/cluster/cluster.sh,
/// deploy/kamailio/kamailio.cfg), with SIPp as the phones: registrations and calls through the
/// balancer, configuration written to the database reaching both nodes, expiry done once, and the
/// faults: a node killed and a database restarted under load. The topology starts once for the
/// fixture; each test leaves it whole (every node up, the database up).
/// </summary>
[TestFixture]
[NonParallelizable]
[CancelAfter(120_000)]
public sealed class ClusterTests
{
    private const string Caller = "alice";
    private static readonly string[] CallUsers = ["alice", "bob", "carol", "dave", "erin"];
    private static readonly string[] ExpiringUsers = [.. Enumerable.Range(0, 6).Select(i => $"exp{i}")];
    private static readonly string[] KillLoadUsers = Numbered("k", 900);
    private static readonly string[] RejoinUsers = Numbered("r", 100);
    private static readonly string[] DatabaseLoadUsers = Numbered("d", 900);
    private static readonly string[] OutageUsers = Numbered("n", 10);

    private ClusterTopology _cluster = null!;

    private static string[] Numbered(string prefix, int count) =>
        [.. Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"{prefix}{i:D4}"))];

    [OneTimeSetUp]
    public async Task StartClusterAsync()
    {
        SipTestServer.RequireSipp();
        _cluster = await ClusterTopology.StartAsync(
            [.. CallUsers, .. ExpiringUsers, .. KillLoadUsers, .. RejoinUsers, .. DatabaseLoadUsers, .. OutageUsers],
            ["contact", "endpoint", "auth", "aor"]);
    }

    [OneTimeTearDown]
    public async Task StopClusterAsync()
    {
        if (_cluster != null)
            await _cluster.DisposeAsync();
    }

    [Test, Order(1)]
    public async Task Phones_register_through_Kamailio_and_each_binding_keeps_its_Path()
    {
        var outcome = await _cluster.RegisterAsync(ClusterTopology.Proxy, ["carol", "dave", "erin"], expires: 300);

        Assert.That(outcome.RegisteredUsers, Is.EquivalentTo(new[] { "carol", "dave", "erin" }), outcome.Describe());
        var contacts = await _cluster.ContactsAsync();
        foreach (var user in new[] { "carol", "dave", "erin" })
        {
            Assert.That(contacts, Does.ContainKey(user));
            Assert.Multiple(() =>
            {
                Assert.That(contacts[user].Path, Is.EqualTo($"<sip:{ClusterTopology.ProxyAddress};lr>"), "the Path Kamailio added");
                Assert.That(contacts[user].RegistrationServer, Is.AnyOf("node-a", "node-b"));
                Assert.That(contacts[user].Uri, Does.StartWith($"sip:{user}@127.0.0.1:"));
            });
        }
    }

    [Test, Order(2)]
    public async Task A_phone_registered_through_one_node_is_called_from_the_other_node_back_through_Kamailio()
    {
        var (bob, registeredOn) = await RegisterPhoneAsync("bob");
        var otherNode = _cluster.Nodes.Single(n => n != registeredOn);

        await CallAsync(bob, "bob", ClusterTopology.NodeAddress(otherNode));
    }

    [Test, Order(3)]
    public async Task A_call_entering_through_Kamailio_reaches_a_registered_phone_back_through_Kamailio()
    {
        var (carol, _) = await RegisterPhoneAsync("carol");

        await CallAsync(carol, "carol", ClusterTopology.Proxy);
    }

    [Test, Order(4)]
    public async Task A_user_written_to_the_database_registers_on_each_node_within_a_second()
    {
        var user = "new" + Guid.NewGuid().ToString("N")[..8];
        var before = await _cluster.RegisterAsync(ClusterTopology.NodeAddresses[0], [user]);
        Assert.That(before.RejectedUsers, Is.EqualTo(new[] { user }), $"the user does not exist yet: {before.Describe()}");

        await _cluster.ProvisionAsync(user);
        var written = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(1) - written.Elapsed);

        var onEach = await Task.WhenAll(ClusterTopology.NodeAddresses.Select(node => _cluster.RegisterAsync(node, [user])));

        Assert.Multiple(() =>
        {
            for (var i = 0; i < onEach.Length; i++)
                Assert.That(onEach[i].RegisteredUsers, Is.EqualTo(new[] { user }), $"{_cluster.Nodes[i]} one second after the write: {onEach[i].Describe()}");
        });
    }

    [Test, Order(5)]
    public async Task A_challenge_from_one_node_is_answered_at_the_other()
    {
        // Kamailio moves a retry to the other node when its node fails: that node must accept the nonce.
        var forward = await _cluster.RegisterAcrossAsync(ClusterTopology.NodeAddresses[0], ClusterTopology.NodeAddresses[1], ["carol"]);
        var backward = await _cluster.RegisterAcrossAsync(ClusterTopology.NodeAddresses[1], ClusterTopology.NodeAddresses[0], ["dave"]);
        var contacts = await _cluster.ContactsAsync();

        Assert.Multiple(() =>
        {
            Assert.That(forward.RegisteredUsers, Is.EqualTo(new[] { "carol" }), $"challenged by node-a, answered at node-b: {forward.Describe()}");
            Assert.That(backward.RegisteredUsers, Is.EqualTo(new[] { "dave" }), $"challenged by node-b, answered at node-a: {backward.Describe()}");
            Assert.That(contacts["carol"].RegistrationServer, Is.EqualTo("node-b"));
            Assert.That(contacts["dave"].RegistrationServer, Is.EqualTo("node-a"));
        });
    }

    [Test, Order(6)]
    public async Task Expired_bindings_are_removed_once_by_one_node_not_by_each()
    {
        var offsets = _cluster.Nodes.ToDictionary(n => n, n => _cluster.Script.NodeLog(n).Length);
        var outcome = await _cluster.RegisterAsync(ClusterTopology.Proxy, ExpiringUsers, rate: 50, expires: 2);
        Assert.That(outcome.RegisteredUsers, Is.EquivalentTo(ExpiringUsers), outcome.Describe());
        var registeredOn = (await _cluster.ContactsAsync()).Values.Where(c => ExpiringUsers.Contains(c.Aor)).Select(c => c.RegistrationServer).Distinct().ToList();

        var clock = Stopwatch.StartNew();
        while ((await _cluster.ContactsAsync()).Keys.Intersect(ExpiringUsers).Any())
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)), "expired bindings are still in the database");
            await Task.Delay(200);
        }
        // A node that removed them logs it; the other, without the lease, must not have removed them too.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var removedBy = _cluster.Nodes.ToDictionary(n => n, n => ClusterTopology.RemovedExpired().Matches(_cluster.NodeLogSince(n, offsets[n]))
            .Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
        var holder = await _cluster.LeaseHolderAsync("contact-expiry");

        await TestContext.Out.WriteLineAsync($"registered on {string.Join(", ", registeredOn)}; removed by {string.Join(", ", removedBy.Select(p => $"{p.Key}: {p.Value}"))}; lease holder {holder}");
        Assert.Multiple(() =>
        {
            Assert.That(removedBy.Values.Sum(), Is.EqualTo(ExpiringUsers.Length), "each expired binding removed exactly once");
            Assert.That(removedBy.Count(p => p.Value > 0), Is.EqualTo(1), "one node removes them");
            Assert.That(holder, Is.AnyOf("node-a", "node-b"));
            Assert.That(removedBy[holder ?? "node-a"], Is.EqualTo(ExpiringUsers.Length), "the lease holder removed them");
        });
    }

    [Test, Order(7)]
    public async Task A_node_killed_under_register_load_is_taken_out_loses_no_acknowledged_registration_and_rejoins()
    {
        const double rate = 50;
        await using var load = _cluster.StartRegistrations(ClusterTopology.Proxy, KillLoadUsers, rate);
        await Task.Delay(TimeSpan.FromSeconds(4));
        var before = load.RegisteredSoFar().Count;
        Assert.That(before, Is.GreaterThan(50), "the load runs");

        var killing = Stopwatch.StartNew();
        await _cluster.Script.RunAsync("kill-node", "a");
        var killed = killing.Elapsed;
        var markedDown = await _cluster.WaitForNodeStateAsync("node-a", 'I', TimeSpan.FromSeconds(10));
        var outcome = await load.CompleteAsync();
        var contacts = await _cluster.ContactsAsync();

        var lost = outcome.RegisteredUsers.Where(u => !contacts.ContainsKey(u)).ToList();
        var lastQuarter = KillLoadUsers[(KillLoadUsers.Length * 3 / 4)..];
        var lateOnA = lastQuarter.Count(u => contacts.TryGetValue(u, out var c) && c.RegistrationServer == "node-a");
        var earlyOnA = KillLoadUsers[..before].Count(u => contacts.TryGetValue(u, out var c) && c.RegistrationServer == "node-a");
        var kamailio = _cluster.Script.KamailioLog().Split('\n').Where(l => l.Contains(ClusterTopology.NodeAddresses[0], StringComparison.Ordinal)).ToList();
        await TestContext.Out.WriteLineAsync($"node-a killed after {before} registrations (kill-node took {killed.TotalSeconds:0.0} s), marked down " +
            $"{markedDown.TotalSeconds:0.0} s later; {outcome.Describe()}\nKamailio: {kamailio.Count(l => l.Contains("did not answer", StringComparison.Ordinal))} requests failed over; " +
            string.Join(" / ", kamailio.Where(l => !l.Contains("did not answer", StringComparison.Ordinal))));
        Assert.Multiple(() =>
        {
            Assert.That(lost, Is.Empty, "acknowledged registrations missing from the database");
            Assert.That(outcome.RejectedUsers, Is.Empty, "a retry moved to node-b with node-a's nonce is accepted");
            Assert.That(earlyOnA, Is.GreaterThan(0), "node-a took its share before it was killed");
            Assert.That(lateOnA, Is.Zero, "registrations after the kill all went to node-b");
            Assert.That(outcome.RegisteredUsers.Count, Is.GreaterThanOrEqualTo(KillLoadUsers.Length * 98 / 100), outcome.Describe());
            Assert.That(outcome.UnexpectedStatusLines.Where(s => s.StartsWith("SIP/2.0 500", StringComparison.Ordinal)), Is.Empty);
        });

        // The node comes back: Kamailio's probes see it, and it gets its share again.
        await _cluster.Script.RunAsync("start-node", "a");
        var rejoined = await _cluster.WaitForNodeStateAsync("node-a", 'A', TimeSpan.FromSeconds(15));
        var after = await _cluster.RegisterAsync(ClusterTopology.Proxy, RejoinUsers, rate: 50);
        var rejoinContacts = await _cluster.ContactsAsync();
        var onA = RejoinUsers.Count(u => rejoinContacts.TryGetValue(u, out var c) && c.RegistrationServer == "node-a");
        await TestContext.Out.WriteLineAsync($"node-a active again {rejoined.TotalSeconds:0.0} s after its start; {onA} of {RejoinUsers.Length} registrations on it");
        Assert.Multiple(() =>
        {
            Assert.That(after.RegisteredUsers, Has.Count.EqualTo(RejoinUsers.Length), after.Describe());
            Assert.That(onA, Is.GreaterThan(RejoinUsers.Length / 5), "node-a gets traffic again");
        });
    }

    [Test, Order(8)]
    public async Task PostgreSQL_restarted_under_load_gets_503_never_500_and_loses_no_acknowledged_registration()
    {
        const double rate = 50;
        // Users that exist only in the database: one node-a has read already (cached), one it has not.
        var known = "dbw" + Guid.NewGuid().ToString("N")[..8];
        var unknown = "dbc" + Guid.NewGuid().ToString("N")[..8];
        await _cluster.ProvisionAsync(known);
        await _cluster.ProvisionAsync(unknown);
        var warm = await _cluster.RegisterAsync(ClusterTopology.NodeAddresses[0], [known]);
        Assert.That(warm.RegisteredUsers, Has.Count.EqualTo(1), warm.Describe());
        string[] outageUsers = [.. OutageUsers, known, unknown];

        var offsets = _cluster.Nodes.ToDictionary(n => n, n => _cluster.Script.NodeLog(n).Length);
        await using var load = _cluster.StartRegistrations(ClusterTopology.Proxy, DatabaseLoadUsers, rate);
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.That(load.RegisteredSoFar(), Is.Not.Empty, "the load runs");

        await _cluster.Script.RunAsync("db-stop");
        var stopped = Stopwatch.StartNew();
        // Straight to a node, not through Kamailio: the node itself answers 503.
        var direct = await _cluster.RegisterAsync(ClusterTopology.NodeAddresses[0], outageUsers, rate: 20);
        await Task.Delay(TimeSpan.FromSeconds(3) - stopped.Elapsed);
        await _cluster.Script.RunAsync("db-start");
        var outage = stopped.Elapsed;
        var outcome = await load.CompleteAsync();
        var contacts = await _cluster.ContactsAsync();

        var lost = outcome.RegisteredUsers.Concat(direct.RegisteredUsers).Where(u => !contacts.ContainsKey(u)).ToList();
        var lastTenth = DatabaseLoadUsers[(DatabaseLoadUsers.Length * 9 / 10)..];
        var lateRegistered = lastTenth.Count(outcome.RegisteredUsers.Contains);
        var logs = _cluster.Nodes.ToDictionary(n => n, n => _cluster.NodeLogSince(n, offsets[n]));
        await TestContext.Out.WriteLineAsync($"database away {outage.TotalSeconds:0.0} s; load: {outcome.Describe()}\ndirect to node-a: {direct.Describe()}");
        Assert.Multiple(() =>
        {
            Assert.That(direct.RefusedUsers, Is.EquivalentTo(outageUsers), $"node-a answers 503 while the database is away: {direct.Describe()}");
            Assert.That(direct.UnexpectedStatusLines, Is.Empty, "nothing but 503 from the node");
            Assert.That(outcome.RefusedUsers, Is.Not.Empty, "the outage met the load");
            Assert.That(outcome.UnexpectedStatusLines.Where(s => s.StartsWith("SIP/2.0 5", StringComparison.Ordinal) && !s.StartsWith("SIP/2.0 503", StringComparison.Ordinal)), Is.Empty,
                "no 5xx but 503");
            Assert.That(lost, Is.Empty, "acknowledged registrations missing from the database");
            Assert.That(lateRegistered, Is.GreaterThanOrEqualTo(lastTenth.Length * 95 / 100), "the nodes recovered by themselves");
            foreach (var (node, log) in logs)
            {
                // Once for reads and once for writes, each way.
                foreach (var kind in new[] { "read", "written" })
                {
                    Assert.That(Regex.Count(log, $@"\[3025\] .* cannot be {kind} "), Is.LessThanOrEqualTo(1), $"{node} logs once that the database cannot be {kind}\n{ClusterTopology.Tail(log, 30)}");
                    Assert.That(Regex.Count(log, $@"\[3026\] .* can be {kind} "), Is.LessThanOrEqualTo(1), $"{node} logs once that the database can be {kind} again\n{ClusterTopology.Tail(log, 30)}");
                }
                Assert.That(Regex.Count(log, @"\[3025\]"), Is.GreaterThanOrEqualTo(1), $"{node} logs that the database went away");
                Assert.That(Regex.Count(log, @"\[3026\]"), Is.EqualTo(Regex.Count(log, @"\[3025\]")), $"{node} logs that it is back as often as that it went away");
            }
        });
    }

    /// <summary>Registers <paramref name="user"/> through Kamailio from a port of its own; returns the port and the node that took it.</summary>
    private async Task<(int Port, string Node)> RegisterPhoneAsync(string user)
    {
        var port = SippRunner.FreeUdpPort();
        var outcome = await _cluster.RegisterAsync(ClusterTopology.Proxy, [user], expires: 300, localPort: port);
        Assert.That(outcome.RegisteredUsers, Is.EqualTo(new[] { user }), outcome.Describe());
        var contact = (await _cluster.ContactsAsync())[user];
        Assert.That(contact.Path, Does.Contain(ClusterTopology.ProxyAddress));
        return (port, contact.RegistrationServer);
    }

    /// <summary>
    /// alice calls <paramref name="callee"/> (a SIPp phone on <paramref name="port"/>) at <paramref name="target"/>;
    /// the phone checks that the INVITE and the BYE come from Kamailio and that Kamailio record-routed the call.
    /// </summary>
    private static async Task CallAsync(int port, string callee, string target)
    {
        var proxyVia = $"^ *SIP/2\\.0/UDP {Regex.Escape(ClusterTopology.ProxyAddress)}[:;]";
        using var scenario = SippScenario.Load("cluster-callee-uas.xml");
        scenario.Checks("CHECKS_INVITE", scenario.Header("Via", proxyVia), scenario.Header("Record-Route", $"<sip:{Regex.Escape(ClusterTopology.ProxyAddress)}[:;>]"))
            .Checks("CHECKS_BYE", scenario.Header("Via", proxyVia));
        await using var phone = SippRunner.Start(new SippOptions
        {
            Scenario = scenario.Path,
            Target = ClusterTopology.Proxy,
            LocalPort = port,
            Service = callee,
            Timeout = TimeSpan.FromSeconds(40),
            TraceErrors = true,
            ExtraArguments = ["-key", "rtp_port", SippRunner.FreeUdpPort().ToString(CultureInfo.InvariantCulture)],
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!phone.Completion.IsCompleted && !SippRunner.IsListening(port) && DateTime.UtcNow < deadline)
            await Task.Delay(20);

        var caller = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = SippRunner.Scenario("cluster-call-uac.xml"),
            Target = target,
            Service = callee,
            Timeout = TimeSpan.FromSeconds(30),
            TraceErrors = true,
            ExtraArguments = ["-au", Caller, "-ap", ClusterTopology.Password(Caller), "-key", "caller", Caller,
                "-key", "rtp_port", SippRunner.FreeUdpPort().ToString(CultureInfo.InvariantCulture), "-d", "500"],
        });
        var answered = await phone.Completion.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Multiple(() =>
        {
            Assert.That(caller.Successful, Is.EqualTo(1), $"caller: {caller.Describe()}");
            Assert.That(answered.Successful, Is.EqualTo(1), $"{callee}: {answered.Describe()}");
        });
    }
}
