using System.Net;
using PjSharp.DataAccess;
using PjSharp.DataAccess.Sqlite;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Registrar;

/// <summary>The registrar of <c>pjsharp serve --config</c>, with phones that compute their own digests.</summary>
[CancelAfter(120_000)]
public sealed class RegistrarTests
{
    private static async Task<IReadOnlyList<Contact>> StoredContactsAsync(RegistrarTestServer server, string aor)
    {
        await using var database = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = server.Database, MustExist = true });
        var found = await database.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix(aor));
        return [.. found.Cast<Contact>()];
    }

    [Test]
    public async Task Phone_registers_with_digest_auth_and_the_binding_is_stored_and_listed()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");

        var challenge = await alice.SendAsync(alice.Register());
        Assert.That(SipWire.StatusOf(challenge), Is.EqualTo(401), challenge);
        var answer = await alice.SendAsync(alice.Register(authorization: alice.Authorize(challenge!)));

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer + server.Output);
        Assert.That(SipWire.HeaderValues(answer, "Contact", "m"), Is.EqualTo(new[] { $"<{alice.ContactUri}>;expires=60" }));
        Assert.That(SipWire.HeaderValues(answer, "Date"), Has.Count.EqualTo(1));
        var stored = await StoredContactsAsync(server, "alice");
        Assert.That(stored.Select(c => (c.Uri, c.Endpoint, c.Aor)), Is.EqualTo(new[] { (alice.ContactUri, "alice", "alice") }));
        Assert.That(stored[0].ExpirationTime, Is.EqualTo(DateTimeOffset.UtcNow.AddSeconds(60)).Within(TimeSpan.FromSeconds(5)));
    }

    [Test]
    public async Task Wrong_password_is_challenged_again()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice", "not-the-password");

        var answer = await alice.RegisterAsync();

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(401), answer);
        Assert.That(SipWire.HeaderValues(answer, "WWW-Authenticate"), Has.Count.EqualTo(1));
        Assert.That(await StoredContactsAsync(server, "alice"), Is.Empty);
    }

    [Test]
    public async Task Unknown_user_and_wrong_password_cannot_be_told_apart()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(), RegistrarTestServer.WithoutFloodLimits);
        using var wrong = server.Phone("alice", "guess");
        using var unknown = server.Phone("mallory", "guess");

        var wrongAnswers = new List<(string? Answer, TimeSpan Time)>();
        var unknownAnswers = new List<(string? Answer, TimeSpan Time)>();
        // Interleaved, so both see the same machine; the first rounds warm up.
        for (var round = 0; round < 120; round++)
        {
            foreach (var (phone, answers) in new[] { (wrong, wrongAnswers), (unknown, unknownAnswers) })
            {
                var challenge = await phone.SendAsync(phone.Register());
                var request = phone.Register(authorization: phone.Authorize(challenge!));
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var answer = await phone.SendAsync(request);
                if (round >= 20)
                    answers.Add((answer, clock.Elapsed));
            }
        }

        static string Shape(string? answer) => string.Join("\n",
            answer!.Split("\r\n\r\n")[0].Split("\r\n").Skip(1)
                .Select(line => line[..line.IndexOf(':', StringComparison.Ordinal)])
                .Where(name => name is not ("Via" or "From" or "To" or "Call-ID" or "CSeq")))
            + "\n" + SipWire.StatusOf(answer) + "\n"
            + string.Join("\n", SipWire.HeaderValues(answer, "WWW-Authenticate").Select(v => SipPhone.Parameter(v, "realm") + "|" + SipPhone.Parameter(v, "algorithm") + "|" + SipPhone.Parameter(v, "qop") + "|" + SipPhone.Parameter(v, "stale")));
        Assert.That(wrongAnswers.Select(a => Shape(a.Answer)).Distinct(), Is.EqualTo(unknownAnswers.Select(a => Shape(a.Answer)).Distinct()));
        Assert.That(SipWire.StatusOf(wrongAnswers[0].Answer), Is.EqualTo(401));
        Assert.That(wrongAnswers[0].Answer, Does.Not.Contain("Server:").And.Not.Contain("User-Agent:"));

        static double Median(List<(string?, TimeSpan Time)> samples) =>
            samples.Select(s => s.Time.TotalMilliseconds).Order().ElementAt(samples.Count / 2);
        var difference = Math.Abs(Median(wrongAnswers) - Median(unknownAnswers));
        TestContext.Out.WriteLine($"median answer time: wrong password {Median(wrongAnswers):0.000} ms, unknown user {Median(unknownAnswers):0.000} ms");
        Assert.That(difference, Is.LessThan(1.0), "median response times differ by 1 ms or more");
    }

    [Test]
    public async Task Replayed_nonce_count_is_refused_but_a_retransmission_is_answered_again()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");
        var challenge = await alice.SendAsync(alice.Register());
        var authorization = alice.Authorize(challenge!);
        var first = alice.Register(authorization: authorization, cseq: 10, branch: "z9hG4bK-first");
        Assert.That(SipWire.StatusOf(await alice.SendAsync(first)), Is.EqualTo(200));

        var retransmission = await alice.SendAsync(first);
        var replay = await alice.SendAsync(alice.Register(authorization: authorization, cseq: 11, branch: "z9hG4bK-replay"));

        Assert.That(SipWire.StatusOf(retransmission), Is.EqualTo(200), "the same request again is a retransmission");
        Assert.That(SipWire.StatusOf(replay), Is.EqualTo(401), replay);
        Assert.That(SipPhone.Parameter(SipWire.HeaderValues(replay, "WWW-Authenticate")[0], "stale"), Is.EqualTo("true"));
        var next = await alice.SendAsync(alice.Register(authorization: alice.Authorize(challenge!, nc: 2), cseq: 12));
        Assert.That(SipWire.StatusOf(next), Is.EqualTo(200), "the next nonce count is fine");
    }

    [Test]
    public async Task Oversized_or_broken_credentials_get_400_not_a_challenge()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");
        var challenge = await alice.SendAsync(alice.Register());
        var huge = System.Text.RegularExpressions.Regex.Replace(alice.Authorize(challenge!), "cnonce=\"[^\"]*\"", $"cnonce=\"{new string('x', 2000)}\"");

        var oversized = await alice.SendAsync(alice.Register(authorization: huge));
        var duplicated = await alice.SendAsync(alice.Register(authorization: alice.Authorize(challenge!) + ", nc=00000002"));

        Assert.That(SipWire.StatusOf(oversized), Is.EqualTo(400), oversized);
        Assert.That(SipWire.StatusOf(duplicated), Is.EqualTo(400), duplicated);
    }

    [Test]
    public async Task Expired_nonce_is_challenged_with_stale_and_the_fresh_one_works()
    {
        var config = RegistrarTestServer.Phones().Replace("password=secret-alice", "password=secret-alice\nnonce_lifetime=1", StringComparison.Ordinal);
        await using var server = await RegistrarTestServer.StartAsync(config);
        using var alice = server.Phone("alice");
        var challenge = await alice.SendAsync(alice.Register());
        await Task.Delay(TimeSpan.FromSeconds(2.2));

        var late = await alice.SendAsync(alice.Register(authorization: alice.Authorize(challenge!)));

        Assert.That(SipWire.StatusOf(late), Is.EqualTo(401), late);
        Assert.That(SipPhone.Parameter(SipWire.HeaderValues(late, "WWW-Authenticate")[0], "stale"), Is.EqualTo("true"));
        var fresh = await alice.SendAsync(alice.Register(authorization: alice.Authorize(late!)));
        Assert.That(SipWire.StatusOf(fresh), Is.EqualTo(200), fresh);
    }

    [TestCase("MD5")]
    [TestCase("SHA-256")]
    [TestCase("SHA-512-256")]
    public async Task Each_digest_algorithm_registers(string algorithm)
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(), "--auth-algorithm", algorithm);
        using var alice = server.Phone("alice");
        alice.Algorithm = algorithm;

        var challenge = await alice.SendAsync(alice.Register());
        Assert.That(SipWire.HeaderValues(challenge, "WWW-Authenticate").Select(v => SipPhone.Parameter(v, "algorithm")), Is.EqualTo(new[] { algorithm }));
        var answer = await alice.SendAsync(alice.Register(authorization: alice.Authorize(challenge!)));

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer);
    }

    [Test]
    public async Task Stored_sha256_digest_registers_without_a_plain_password()
    {
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("alice:asterisk:secret-alice"u8));
        var config = RegistrarTestServer.Phones().Replace("password=secret-alice", $"password_digest=SHA-256:{digest}", StringComparison.Ordinal);
        await using var server = await RegistrarTestServer.StartAsync(config, "--auth-algorithm", "SHA-256", "--auth-algorithm", "MD5");
        using var sha = server.Phone("alice");
        sha.Algorithm = "SHA-256";
        using var md5 = server.Phone("alice");

        Assert.That(SipWire.StatusOf(await sha.RegisterAsync()), Is.EqualTo(200), "the stored SHA-256 digest serves SHA-256");
        Assert.That(SipWire.StatusOf(await md5.RegisterAsync()), Is.EqualTo(401), "and nothing else: no MD5 secret is stored");
    }

    [Test]
    public async Task Strongest_algorithm_is_offered_first_when_several_are()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones(),
            "--auth-algorithm", "MD5", "--auth-algorithm", "SHA-256");
        using var alice = server.Phone("alice");

        var challenge = await alice.SendAsync(alice.Register());

        Assert.That(SipWire.HeaderValues(challenge, "WWW-Authenticate").Select(v => SipPhone.Parameter(v, "algorithm")), Is.EqualTo(new[] { "SHA-256", "MD5" }));
    }

    [Test]
    public async Task Expires_zero_removes_one_binding_and_the_wildcard_removes_all()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");
        var desk = $"<sip:alice@{SipRequestText.HostPort(alice.Local)};line=desk>";
        var mobile = $"<sip:alice@{SipRequestText.HostPort(alice.Local)};line=mobile>";
        Assert.That(SipWire.StatusOf(await alice.RegisterAsync([desk, mobile])), Is.EqualTo(200));
        Assert.That(await StoredContactsAsync(server, "alice"), Has.Count.EqualTo(2));

        var removed = await alice.RegisterAsync([desk + ";expires=0"], expires: null);
        Assert.That(SipWire.StatusOf(removed), Is.EqualTo(200), removed);
        Assert.That(SipWire.HeaderValues(removed, "Contact", "m"), Has.Count.EqualTo(1).And.One.StartsWith(mobile));
        Assert.That((await StoredContactsAsync(server, "alice")).Select(c => c.Uri), Is.EqualTo(new[] { mobile.Trim('<', '>') }));

        var all = await alice.RegisterAsync(["*"], expires: 0);
        Assert.That(SipWire.StatusOf(all), Is.EqualTo(200), all);
        Assert.That(SipWire.HeaderValues(all, "Contact", "m"), Is.Empty);
        Assert.That(await StoredContactsAsync(server, "alice"), Is.Empty);
    }

    [Test]
    public async Task Wildcard_with_a_nonzero_expiry_is_a_bad_request()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");

        var answer = await alice.RegisterAsync(["*"], expires: 60);

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(400), answer);
    }

    [Test]
    public async Task Expiry_below_the_minimum_gets_423_with_min_expires()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");

        var answer = await alice.RegisterAsync(expires: 10);

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(423), answer);
        Assert.That(SipWire.HeaderValues(answer, "Min-Expires"), Is.EqualTo(new[] { "30" }));
    }

    [Test]
    public async Task Expiry_above_the_maximum_is_clamped()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");

        var answer = await alice.RegisterAsync(expires: 100_000);

        Assert.That(SipWire.HeaderValues(answer, "Contact", "m"), Is.EqualTo(new[] { $"<{alice.ContactUri}>;expires=600" }), answer);
    }

    [Test]
    public async Task Max_contacts_refuses_another_phone_without_remove_existing()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones("max_contacts=1"));
        using var first = server.Phone("alice");
        using var second = server.Phone("alice");
        Assert.That(SipWire.StatusOf(await first.RegisterAsync()), Is.EqualTo(200));

        var answer = await second.RegisterAsync();

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(403), answer);
        Assert.That((await StoredContactsAsync(server, "alice")).Select(c => c.Uri), Is.EqualTo(new[] { first.ContactUri }));
    }

    [Test]
    public async Task Max_contacts_with_remove_existing_replaces_the_oldest()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones("max_contacts=1\nremove_existing=yes"));
        using var first = server.Phone("alice");
        using var second = server.Phone("alice");
        Assert.That(SipWire.StatusOf(await first.RegisterAsync()), Is.EqualTo(200));

        var answer = await second.RegisterAsync();

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer);
        Assert.That(SipWire.HeaderValues(answer, "Contact", "m"), Is.EqualTo(new[] { $"<{second.ContactUri}>;expires=60" }));
        Assert.That((await StoredContactsAsync(server, "alice")).Select(c => c.Uri), Is.EqualTo(new[] { second.ContactUri }));
    }

    [Test]
    public async Task Acknowledged_binding_survives_sigkill_right_after_the_200()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");
        var answer = await alice.RegisterAsync(expires: 300);
        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer);

        await server.KillAndRestartAsync();

        var stored = await StoredContactsAsync(server, "alice");
        Assert.That(stored.Select(c => c.Uri), Is.EqualTo(new[] { alice.ContactUri }));
        // The restarted server lists it too: a REGISTER without Contact asks for the bindings.
        using var again = server.Phone("alice");
        var query = await again.RegisterAsync(contacts: [], expires: null);
        Assert.That(SipWire.HeaderValues(query, "Contact", "m"), Has.One.StartsWith($"<{alice.ContactUri}>;expires="), query);
    }

    [Test]
    public async Task Endpoint_identified_by_a_header_registers_without_credentials()
    {
        var config = RegistrarTestServer.Phones(more: """
            [trunk]
            type=endpoint
            context=default
            identify_by=header
            aors=trunk

            [trunk]
            type=aor
            max_contacts=1

            [trunk-by-key]
            type=identify
            endpoint=trunk
            match_header=X-Trunk-Key: s3cr3t
            """).Replace("endpoint_identifier_order=username,ip", "endpoint_identifier_order=header,username", StringComparison.Ordinal);
        await using var server = await RegistrarTestServer.StartAsync(config);
        using var trunk = server.Phone("trunk");

        var withKey = await trunk.SendAsync(trunk.Register(headers: ["X-Trunk-Key: s3cr3t"]));
        var withoutKey = await trunk.SendAsync(trunk.Register());

        Assert.That(SipWire.StatusOf(withKey), Is.EqualTo(200), withKey);
        Assert.That(SipWire.StatusOf(withoutKey), Is.EqualTo(401), "without the header nobody claims it");
    }

    [Test]
    public async Task Aor_not_of_the_endpoint_gets_404()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");
        var challenge = await alice.SendAsync(alice.Register());
        var request = alice.Register(authorization: alice.Authorize(challenge!))
            .Replace($"To: <sip:alice@", $"To: <sip:bob@", StringComparison.Ordinal);

        var answer = await alice.SendAsync(request);

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(404), answer);
    }
}

/// <summary>Bindings over time: expiry while running, and reloads that keep them.</summary>
[CancelAfter(60_000)]
public sealed class RegistrarLifetimeTests
{
    [Test]
    public async Task Bindings_expire_while_the_server_runs()
    {
        var config = RegistrarTestServer.Phones("minimum_expiration=1")
            .Replace("endpoint_identifier_order=username,ip", "endpoint_identifier_order=username,ip\ncontact_expiration_check_interval=1", StringComparison.Ordinal);
        await using var server = await RegistrarTestServer.StartAsync(config);
        using var alice = server.Phone("alice");
        Assert.That(SipWire.StatusOf(await alice.RegisterAsync(expires: 2)), Is.EqualTo(200));

        await Task.Delay(TimeSpan.FromSeconds(4.5));

        await using var database = await PjSharp.DataAccess.Sqlite.SqliteBackend.OpenAsync(new() { Path = server.Database, MustExist = true });
        Assert.That(await database.RetrieveAllAsync(PjSharp.DataAccess.Contact.Type), Is.Empty, "removed from the database");
        using var again = server.Phone("alice");
        var query = await again.RegisterAsync(contacts: [], expires: null);
        Assert.That(SipWire.StatusOf(query), Is.EqualTo(200), query);
        Assert.That(SipWire.HeaderValues(query, "Contact", "m"), Is.Empty, "no longer listed");
        Assert.That(server.Output, Does.Contain("Removed 1 expired bindings"));
    }

    [Test]
    public async Task Reload_on_sighup_applies_new_users_and_keeps_registrations()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        using var alice = server.Phone("alice");
        Assert.That(SipWire.StatusOf(await alice.RegisterAsync(expires: 300)), Is.EqualTo(200));
        using var dave = server.Phone("dave");
        Assert.That(SipWire.StatusOf(await dave.RegisterAsync()), Is.EqualTo(401), "dave is unknown so far");

        await File.WriteAllTextAsync(server.ConfigFile, RegistrarTestServer.Phones(users: ["alice", "bob", "carol", "dave"]));
        Assert.That(server.Process.Signal(1), Is.True, "could not send SIGHUP");
        string? answer = null;
        for (var attempt = 0; attempt < 50 && SipWire.StatusOf(answer) != 200; attempt++)
        {
            await Task.Delay(100);
            answer = await dave.RegisterAsync();
        }

        Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), answer + server.Output);
        var query = await alice.RegisterAsync(contacts: [], expires: null);
        Assert.That(SipWire.HeaderValues(query, "Contact", "m"), Has.One.StartsWith($"<{alice.ContactUri}>"), "alice is still registered");
    }
}
