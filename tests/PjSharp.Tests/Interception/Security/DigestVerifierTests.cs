using System.Text;
using PjSharp.DataAccess;
using PjSharp.Interception.Security;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception.Security;

public class DigestVerifierTests
{
    private const long Now = 1_700_000_000_000;
    private const string Realm = "example.com";
    private static readonly byte[] RealmBytes = Encoding.UTF8.GetBytes(Realm);
    private static readonly DigestAlgorithm[] All = [DigestAlgorithm.Sha512_256, DigestAlgorithm.Sha256, DigestAlgorithm.Md5];

    private NonceService _nonces = null!;
    private DigestVerifier _verifier = null!;
    private StoredCredential _alice = null!;

    [SetUp]
    public void Create()
    {
        _nonces = new NonceService();
        _verifier = new DigestVerifier(_nonces, new NonceCountTracker(), All);
        _alice = StoredCredential.FromPassword("alice", Realm, "wonderland");
    }

    private string NewNonce(long issued = Now)
    {
        var nonce = new byte[NonceService.NonceLength];
        _nonces.Create(nonce, RealmBytes, issued);
        return Encoding.ASCII.GetString(nonce);
    }

    private DigestVerification Verify(string header, StoredCredential? stored, string method = "REGISTER", long now = Now, DigestVerifier? verifier = null)
    {
        Assert.That(DigestCredentials.TryParse(Encoding.UTF8.GetBytes(header), out var credentials), Is.EqualTo(DigestParseResult.Ok), header);
        return (verifier ?? _verifier).Verify(credentials, Encoding.ASCII.GetBytes(method), RealmBytes, stored, now);
    }

    private static string Hex(DigestAlgorithm algorithm, string ha1, string nonce, string nc, string cnonce, string qop, string method, string uri)
    {
        Span<byte> destination = stackalloc byte[64];
        var length = DigestVerifier.ComputeResponse(algorithm, Encoding.UTF8.GetBytes(ha1), Encoding.UTF8.GetBytes(nonce), Encoding.UTF8.GetBytes(nc),
            Encoding.UTF8.GetBytes(cnonce), Encoding.UTF8.GetBytes(qop), Encoding.UTF8.GetBytes(method), Encoding.UTF8.GetBytes(uri), destination);
        return Encoding.ASCII.GetString(destination[..length]);
    }

    private static string Ha1(DigestAlgorithm algorithm, string username, string realm, string password)
    {
        Span<byte> destination = stackalloc byte[64];
        var length = DigestVerifier.ComputeHa1(algorithm, Encoding.UTF8.GetBytes(username), Encoding.UTF8.GetBytes(realm), Encoding.UTF8.GetBytes(password), destination);
        return Encoding.ASCII.GetString(destination[..length]);
    }

    // RFC 7616 §3.9.1.
    private const string Rfc7616Nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    private const string Rfc7616Cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    [TestCase(DigestAlgorithm.Md5, "8ca523f5e9506fed4657c9700eebdbec")]
    [TestCase(DigestAlgorithm.Sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")]
    // §3.9.2's published SHA-512-256 figures are disputed (erratum 4897): this one is §3.9.1's input hashed by OpenSSL.
    [TestCase(DigestAlgorithm.Sha512_256, "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0")]
    public void Rfc_7616_example(DigestAlgorithm algorithm, string expected)
    {
        var ha1 = Ha1(algorithm, "Mufasa", "http-auth@example.org", "Circle of Life");
        Assert.That(Hex(algorithm, ha1, Rfc7616Nonce, "00000001", Rfc7616Cnonce, "auth", "GET", "/dir/index.html"), Is.EqualTo(expected));
    }

    [Test]
    public void Rfc_2617_example()
    {
        var ha1 = Ha1(DigestAlgorithm.Md5, "Mufasa", "testrealm@host.com", "Circle Of Life");
        Assert.That(Hex(DigestAlgorithm.Md5, ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", "GET", "/dir/index.html"),
            Is.EqualTo("6629fae49393a05397450978507c4ef1"));
    }

    [Test]
    public void Rfc_7616_example_utf8_username_with_sha512_256()
    {
        var ha1 = Ha1(DigestAlgorithm.Sha512_256, "Jäsøn Doe", "api@example.org", "Secret, or not?");
        Assert.That(Hex(DigestAlgorithm.Sha512_256, ha1, "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", "00000001",
            "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", "auth", "GET", "/doe.json"),
            Is.EqualTo("3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"));
    }

    [Test]
    public void Without_qop_the_rfc_2069_form_is_used() =>
        Assert.That(Hex(DigestAlgorithm.Md5, "939e7578ed9e3c518a452acee763bce9", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "", "", "", "GET", "/dir/index.html"),
            Is.EqualTo(DigestClient.H(DigestAlgorithm.Md5, "939e7578ed9e3c518a452acee763bce9:dcd98b7102dd2f0e8b11d0f600bfb0c093:" + DigestClient.H(DigestAlgorithm.Md5, "GET:/dir/index.html"))));

    [TestCase(DigestAlgorithm.Md5)]
    [TestCase(DigestAlgorithm.Sha256)]
    [TestCase(DigestAlgorithm.Sha512_256)]
    public void The_right_password_authenticates(DigestAlgorithm algorithm) =>
        Assert.That(Verify(DigestClient.Authorization(algorithm, "alice", Realm, "wonderland", NewNonce()), _alice), Is.EqualTo(DigestVerification.Authenticated));

    [Test]
    public void Without_qop_the_right_password_authenticates_once()
    {
        var header = DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", NewNonce(), qop: null);
        Assert.That(Verify(header, _alice), Is.EqualTo(DigestVerification.Authenticated));
        Assert.That(Verify(header, _alice), Is.EqualTo(DigestVerification.Replayed));
    }

    [Test]
    public void An_upper_case_response_is_accepted()
    {
        var nonce = NewNonce();
        var response = DigestClient.Response(DigestAlgorithm.Md5, "alice", Realm, "wonderland", "REGISTER", "sip:example.com", nonce, cnonce: "0a4f113b").ToUpperInvariant();
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", nonce, response: response), _alice),
            Is.EqualTo(DigestVerification.Authenticated));
    }

    [Test]
    public void A_tampered_response_fails()
    {
        var nonce = NewNonce();
        var good = DigestClient.Response(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", "REGISTER", "sip:example.com", nonce);
        for (var i = 0; i < good.Length; i++)
        {
            var bad = good[..i] + (good[i] == '0' ? '1' : '0') + good[(i + 1)..];
            Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", nonce, response: bad), _alice),
                Is.EqualTo(DigestVerification.Failed), $"digit {i}");
        }
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", nonce, response: good[..^1]), _alice),
            Is.EqualTo(DigestVerification.Failed), "truncated");
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", nonce, response: ""), _alice),
            Is.EqualTo(DigestVerification.Failed), "empty");
    }

    [Test]
    public void Any_other_changed_input_fails()
    {
        var nonce = NewNonce();
        var header = DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", nonce);
        Assert.That(Verify(header, _alice, method: "INVITE"), Is.EqualTo(DigestVerification.Failed), "method");
        Assert.That(Verify(header.Replace("uri=\"sip:example.com\"", "uri=\"sip:evil.com\"", StringComparison.Ordinal), _alice), Is.EqualTo(DigestVerification.Failed), "uri");
        Assert.That(Verify(header.Replace("cnonce=\"0a4f113b\"", "cnonce=\"0a4f113c\"", StringComparison.Ordinal), _alice), Is.EqualTo(DigestVerification.Failed), "cnonce");
        Assert.That(Verify(header.Replace("nc=00000001", "nc=00000002", StringComparison.Ordinal), _alice), Is.EqualTo(DigestVerification.Failed), "nc");
        Assert.That(Verify(header.Replace("algorithm=MD5", "algorithm=SHA-256", StringComparison.Ordinal), _alice), Is.EqualTo(DigestVerification.Failed), "algorithm");
    }

    [Test]
    public void Wrong_password_and_unknown_user_give_the_same_answer()
    {
        var nonce = NewNonce();
        var wrongPassword = Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "guess", nonce), _alice);
        var unknownUser = Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "mallory", Realm, "guess", nonce), stored: null);
        var otherUsersCredential = Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "mallory", Realm, "wonderland", nonce), _alice);
        Assert.That(wrongPassword, Is.EqualTo(DigestVerification.Failed));
        Assert.That(unknownUser, Is.EqualTo(wrongPassword));
        Assert.That(otherUsersCredential, Is.EqualTo(wrongPassword), "credentials for one user do not pass as another's");
    }

    [Test]
    public void An_unknown_user_fails_even_with_a_well_formed_response_on_every_algorithm()
    {
        foreach (var algorithm in All)
        {
            Assert.That(Verify(DigestClient.Authorization(algorithm, "nobody", Realm, "", NewNonce()), stored: null),
                Is.EqualTo(DigestVerification.Failed), algorithm.ToString());
        }
    }

    [Test]
    public void An_expired_nonce_with_the_right_password_is_stale()
    {
        var header = DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", NewNonce(Now - 60_000));
        Assert.That(Verify(header, _alice), Is.EqualTo(DigestVerification.Stale));
    }

    [Test]
    public void An_expired_nonce_with_a_wrong_password_fails_not_stale()
    {
        var header = DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "guess", NewNonce(Now - 60_000));
        Assert.That(Verify(header, _alice), Is.EqualTo(DigestVerification.Failed));
    }

    [Test]
    public void The_nonce_lifetime_comes_from_the_credential()
    {
        var longLived = StoredCredential.FromPassword("alice", Realm, "wonderland", nonceLifetimeSeconds: 120);
        var header = DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", NewNonce(Now - 60_000));
        Assert.That(Verify(header, longLived), Is.EqualTo(DigestVerification.Authenticated));
    }

    [Test]
    public void A_forged_nonce_fails()
    {
        var forged = Encoding.ASCII.GetString(Enumerable.Repeat((byte)'A', NonceService.NonceLength).ToArray());
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", forged), _alice), Is.EqualTo(DigestVerification.Failed));
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", Rfc7616Nonce), _alice), Is.EqualTo(DigestVerification.Failed));
    }

    [Test]
    public void A_nonce_from_another_server_fails()
    {
        var other = new NonceService();
        var nonce = new byte[NonceService.NonceLength];
        other.Create(nonce, RealmBytes, Now);
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", Encoding.ASCII.GetString(nonce)), _alice),
            Is.EqualTo(DigestVerification.Failed));
    }

    [Test]
    public void A_nonce_the_replay_check_may_have_forgotten_is_challenged_again_as_stale_not_failed()
    {
        // A table of 4 nonces: answers to five challenges issued after this one, arriving first, evict
        // everything older, so this nonce cannot be told from a replay of one that was evicted.
        var verifier = new DigestVerifier(_nonces, new NonceCountTracker(capacity: 4), All);
        var delayed = NewNonce(Now);
        for (var i = 1; i <= 5; i++)
            Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", NewNonce(Now + i)), _alice, now: Now + 10, verifier: verifier),
                Is.EqualTo(DigestVerification.Authenticated));

        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", delayed), _alice, now: Now + 10, verifier: verifier),
            Is.EqualTo(DigestVerification.Stale));
    }

    [Test]
    public void A_replayed_nonce_count_is_reported_and_the_next_one_accepted()
    {
        var nonce = NewNonce();
        var first = DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", nonce, nc: 1);
        Assert.That(Verify(first, _alice), Is.EqualTo(DigestVerification.Authenticated));
        Assert.That(Verify(first, _alice), Is.EqualTo(DigestVerification.Replayed));
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", nonce, nc: 2), _alice),
            Is.EqualTo(DigestVerification.Authenticated));
    }

    [Test]
    public void Failed_attempts_do_not_use_up_nonce_counts()
    {
        var nonce = NewNonce();
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "guess", nonce, nc: 5), _alice), Is.EqualTo(DigestVerification.Failed));
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", nonce, nc: 1), _alice),
            Is.EqualTo(DigestVerification.Authenticated));
    }

    [Test]
    public void Another_realm_fails()
    {
        var header = DigestClient.Authorization(DigestAlgorithm.Md5, "alice", "example.org", "wonderland", NewNonce());
        Assert.That(Verify(header, _alice), Is.EqualTo(DigestVerification.Failed));
        var otherRealm = StoredCredential.FromPassword("alice", "example.org", "wonderland");
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", NewNonce()), otherRealm),
            Is.EqualTo(DigestVerification.Failed), "a credential configured for another realm");
    }

    [Test]
    public void An_algorithm_not_offered_fails()
    {
        var shaOnly = new DigestVerifier(_nonces, new NonceCountTracker(), [DigestAlgorithm.Sha256]);
        var md5 = DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", NewNonce());
        Assert.That(Verify(md5, _alice, verifier: shaOnly), Is.EqualTo(DigestVerification.Failed), "no downgrade to MD5");
        var noAlgorithm = md5.Replace(", algorithm=MD5", "", StringComparison.Ordinal);
        Assert.That(Verify(noAlgorithm, _alice, verifier: shaOnly), Is.EqualTo(DigestVerification.Failed), "absent means MD5");
        Assert.That(Verify(noAlgorithm, _alice), Is.EqualTo(DigestVerification.Authenticated), "absent means MD5");
    }

    [TestCase("MD5-sess")]
    [TestCase("SHA-256-sess")]
    [TestCase("SHA-1")]
    public void Unsupported_algorithms_fail(string name)
    {
        var header = DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", NewNonce()).Replace("algorithm=MD5", "algorithm=" + name, StringComparison.Ordinal);
        Assert.That(Verify(header, _alice), Is.EqualTo(DigestVerification.Failed));
    }

    [Test]
    public void Qop_auth_int_fails()
    {
        var header = DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", NewNonce(), qop: "auth-int");
        Assert.That(Verify(header, _alice), Is.EqualTo(DigestVerification.Failed));
    }

    [Test]
    public void Userhash_true_fails_even_with_the_right_response()
    {
        var header = DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", NewNonce(), extra: ", userhash=true");
        Assert.That(Verify(header, _alice), Is.EqualTo(DigestVerification.Failed));
        var explicitFalse = DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", NewNonce(), extra: ", userhash=false");
        Assert.That(Verify(explicitFalse, _alice), Is.EqualTo(DigestVerification.Authenticated));
    }

    [Test]
    public void Usernames_with_escaped_quotes_and_utf8_authenticate()
    {
        const string username = "o\"brien\\Jäsøn";
        var stored = StoredCredential.FromPassword(username, Realm, "pa:ss\"word");
        var header = DigestClient.Authorization(DigestAlgorithm.Sha512_256, username, Realm, "pa:ss\"word", NewNonce());
        Assert.That(header, Does.Contain("username=\"o\\\"brien\\\\Jäsøn\""));
        Assert.That(Verify(header, stored), Is.EqualTo(DigestVerification.Authenticated));
    }

    [Test]
    public void A_stored_md5_hash_authenticates_md5_only()
    {
        var ha1 = DigestClient.H(DigestAlgorithm.Md5, $"alice:{Realm}:wonderland");
        var stored = StoredCredential.FromHash("alice", Realm, DigestAlgorithm.Md5, ha1.ToUpperInvariant());
        Assert.That(stored.Supports(DigestAlgorithm.Md5), Is.True);
        Assert.That(stored.Supports(DigestAlgorithm.Sha256), Is.False);
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", NewNonce()), stored), Is.EqualTo(DigestVerification.Authenticated));
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", NewNonce()), stored), Is.EqualTo(DigestVerification.Failed));
    }

    [Test]
    public void A_stored_sha256_hash_authenticates()
    {
        var ha1 = DigestClient.H(DigestAlgorithm.Sha256, $"alice:{Realm}:wonderland");
        var stored = StoredCredential.FromHash("alice", Realm, DigestAlgorithm.Sha256, ha1);
        Assert.That(Verify(DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", NewNonce()), stored), Is.EqualTo(DigestVerification.Authenticated));
    }

    [TestCase(DigestAlgorithm.Md5, "0123456789abcdef0123456789abcde", "32 hexadecimal digits")]
    [TestCase(DigestAlgorithm.Md5, "0123456789abcdef0123456789abcdef0", "32 hexadecimal digits")]
    [TestCase(DigestAlgorithm.Md5, "", "32 hexadecimal digits")]
    [TestCase(DigestAlgorithm.Md5, "0123456789abcdef0123456789abcdeg", "not a hexadecimal digit at position 32")]
    [TestCase(DigestAlgorithm.Md5, "0123456789abcdef0123456789abcd%s", "not a hexadecimal digit at position 31")]
    [TestCase(DigestAlgorithm.Sha256, "0123456789abcdef0123456789abcdef", "64 hexadecimal digits")]
    [TestCase(DigestAlgorithm.Sha512_256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64 hexadecimal digits")]
    public void A_bad_stored_hash_is_refused_at_load_naming_the_problem(DigestAlgorithm algorithm, string hash, string problem)
    {
        var error = Assert.Throws<ArgumentException>(() => StoredCredential.FromHash("alice", Realm, algorithm, hash));
        Assert.That(error!.Message, Does.Contain(problem).And.Contain("alice"));
        if (hash.Length > 4)
            Assert.That(error.Message, Does.Not.Contain(hash), "the hash itself is not echoed");
    }

    [Test]
    public void Credentials_come_from_the_auth_configuration()
    {
        var plain = StoredCredential.FromAuth(new Auth("a1") { Username = "alice", Password = "wonderland", NonceLifetime = 60 }, defaultRealm: Realm);
        Assert.That(plain.RealmText, Is.EqualTo(Realm));
        Assert.That(plain.NonceLifetimeSeconds, Is.EqualTo(60));
        Assert.That(All.All(plain.Supports), Is.True);

        var md5 = StoredCredential.FromAuth(new Auth("a2")
        {
            AuthType = AuthType.Md5,
            Username = "bob",
            Realm = "other",
            Md5Cred = DigestClient.H(DigestAlgorithm.Md5, "bob:other:pw"),
        }, defaultRealm: Realm);
        Assert.That(md5.RealmText, Is.EqualTo("other"));
        Assert.That(md5.Supports(DigestAlgorithm.Md5), Is.True);
        Assert.That(md5.Supports(DigestAlgorithm.Sha256), Is.False);
    }

    [Test]
    public void A_credential_prints_no_secret()
    {
        var text = StoredCredential.FromPassword("alice", Realm, "wonderland").ToString();
        Assert.That(text, Does.Contain("alice").And.Not.Contain("wonderland").And.Not.Contain(DigestClient.H(DigestAlgorithm.Md5, $"alice:{Realm}:wonderland")));
    }

    [Test]
    public void Parsing_and_verifying_allocate_nothing_on_any_path()
    {
        const int count = 10_000;
        var nonce = NewNonce();
        var method = "REGISTER"u8.ToArray();
        // Headers are built before measuring; each has the next nonce count.
        var headers = Enumerable.Range(1, count + 10)
            .Select(nc => Encoding.UTF8.GetBytes(DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", Realm, "wonderland", nonce, nc: (uint)nc)))
            .ToArray();
        var wrong = Encoding.UTF8.GetBytes(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "guess", nonce));
        var sha512 = Encoding.UTF8.GetBytes(DigestClient.Authorization(DigestAlgorithm.Sha512_256, "alice", Realm, "wonderland", nonce));
        var stale = Encoding.UTF8.GetBytes(DigestClient.Authorization(DigestAlgorithm.Md5, "alice", Realm, "wonderland", NewNonce(Now - 3_600_000)));

        DigestVerification Run(byte[] header, StoredCredential? stored)
        {
            DigestCredentials.TryParse(header, out var credentials);
            return _verifier.Verify(credentials, method, RealmBytes, stored, Now);
        }

        for (var i = 0; i < 10; i++)
        {
            Assert.That(Run(headers[i], _alice), Is.EqualTo(DigestVerification.Authenticated));
            Run(wrong, _alice);
            Run(wrong, null);
            Run(sha512, _alice);
            Assert.That(Run(stale, _alice), Is.EqualTo(DigestVerification.Stale));
        }
        var authenticated = 0;
        AllocationAssert.NothingPerCall(count * 6, () =>
        {
            // The first run authenticates every count; later runs see them all as replays.
            for (var i = 10; i < headers.Length; i++)
            {
                if (Run(headers[i], _alice) == DigestVerification.Authenticated)
                    authenticated++;
                Run(wrong, _alice);
                Run(wrong, null);
                Run(sha512, _alice);
                Run(stale, _alice);
                Run(headers[i], _alice);
            }
        });
        Assert.That(authenticated, Is.EqualTo(count));
    }
}
