using System.Text;
using PjSharp.Interception.Security;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception.Security;

public class DigestChallengeTests
{
    // As long as NonceService makes them.
    private static readonly byte[] Nonce = "AAAAAYvx7QAk9Uw3yz9lrH0y3SZ1Aw_-AAAAAYvx7QAk"u8.ToArray();

    private static string Write(DigestChallenge challenge, int index, bool stale = false)
    {
        var buffer = new byte[challenge.MaxLength()];
        var length = challenge.Write(index, Nonce, stale, buffer);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    [Test]
    public void One_challenge_per_algorithm_strongest_first()
    {
        var challenge = new DigestChallenge("example.com", [DigestAlgorithm.Md5, DigestAlgorithm.Sha512_256, DigestAlgorithm.Sha256, DigestAlgorithm.Md5], opaque: "xyz");
        Assert.That(challenge.Algorithms.ToArray(), Is.EqualTo(new[] { DigestAlgorithm.Sha512_256, DigestAlgorithm.Sha256, DigestAlgorithm.Md5 }));
        Assert.That(Write(challenge, 0), Is.EqualTo($"Digest realm=\"example.com\",nonce=\"{Encoding.ASCII.GetString(Nonce)}\",opaque=\"xyz\",algorithm=SHA-512-256,qop=\"auth\""));
        Assert.That(Write(challenge, 1), Does.EndWith(",algorithm=SHA-256,qop=\"auth\""));
        Assert.That(Write(challenge, 2), Does.EndWith(",algorithm=MD5,qop=\"auth\""));
    }

    [Test]
    public void Stale_is_appended_when_asked()
    {
        var challenge = new DigestChallenge("example.com", [DigestAlgorithm.Sha256]);
        Assert.That(Write(challenge, 0, stale: true), Is.EqualTo($"Digest realm=\"example.com\",nonce=\"{Encoding.ASCII.GetString(Nonce)}\",algorithm=SHA-256,qop=\"auth\",stale=true"));
        Assert.That(Write(challenge, 0).Length + ",stale=true".Length, Is.EqualTo(challenge.MaxLength()));
    }

    [Test]
    public void The_challenge_parses_back_and_a_client_can_answer_it()
    {
        var nonces = new NonceService();
        var challenge = new DigestChallenge("my \"quoted\" realm", [DigestAlgorithm.Sha256]);
        var nonce = new byte[NonceService.NonceLength];
        nonces.Create(nonce, challenge.RealmBytes, 1000);
        var buffer = new byte[challenge.MaxLength()];
        var text = Encoding.UTF8.GetString(buffer, 0, challenge.Write(0, nonce, false, buffer));
        Assert.That(text, Does.StartWith("Digest realm=\"my \\\"quoted\\\" realm\""));

        var header = DigestClient.Authorization(DigestAlgorithm.Sha256, "alice", "my \"quoted\" realm", "pw", Encoding.ASCII.GetString(nonce))
            .Replace("realm=\"my \"quoted\" realm\"", "realm=\"my \\\"quoted\\\" realm\"", StringComparison.Ordinal);
        Assert.That(DigestCredentials.TryParse(Encoding.UTF8.GetBytes(header), out var credentials), Is.EqualTo(DigestParseResult.Ok));
        var verifier = new DigestVerifier(nonces, new NonceCountTracker(), challenge.Algorithms);
        Assert.That(verifier.Verify(credentials, "REGISTER"u8, challenge.RealmBytes, StoredCredential.FromPassword("alice", "my \"quoted\" realm", "pw"), 1000),
            Is.EqualTo(DigestVerification.Authenticated));
    }

    [Test]
    public void Writing_allocates_nothing()
    {
        var challenge = new DigestChallenge("example.com", [DigestAlgorithm.Sha256, DigestAlgorithm.Md5], "opaque");
        var buffer = new byte[challenge.MaxLength()];
        AllocationAssert.NothingPerCall(10_000, () =>
        {
            for (var i = 0; i < 10_000; i++)
                challenge.Write(i % 2, Nonce, i % 3 == 0, buffer);
        });
    }

    [Test]
    public void Bad_configuration_and_calls_are_refused()
    {
        Assert.Throws<ArgumentException>(() => _ = new DigestChallenge("", [DigestAlgorithm.Md5]));
        Assert.Throws<ArgumentException>(() => _ = new DigestChallenge("a\r\nX-Injected: 1", [DigestAlgorithm.Md5]));
        Assert.Throws<ArgumentException>(() => _ = new DigestChallenge("a", []));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DigestChallenge("a", [(DigestAlgorithm)42]));
        var challenge = new DigestChallenge("a", [DigestAlgorithm.Md5]);
        Assert.Throws<ArgumentOutOfRangeException>(() => challenge.Write(1, Nonce, false, new byte[200]));
        Assert.Throws<ArgumentException>(() => challenge.Write(0, Nonce, false, new byte[10]));
        Assert.Throws<ArgumentException>(() => challenge.Write(0, "bad\"nonce"u8, false, new byte[200]));
    }
}
