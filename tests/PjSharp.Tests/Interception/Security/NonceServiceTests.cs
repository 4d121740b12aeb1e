using System.Buffers.Binary;
using System.Buffers.Text;
using System.Text;
using PjSharp.Interception.Security;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception.Security;

public class NonceServiceTests
{
    private const long Now = 1_700_000_000_000;
    private static readonly byte[] Realm = "example.com"u8.ToArray();
    private static readonly byte[] Secret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static byte[] Create(NonceService service, long now, byte[]? realm = null)
    {
        var nonce = new byte[NonceService.NonceLength];
        Assert.That(service.Create(nonce, realm ?? Realm, now), Is.EqualTo(NonceService.NonceLength));
        return nonce;
    }

    [Test]
    public void A_fresh_nonce_is_valid_and_reports_when_it_was_issued()
    {
        var service = new NonceService(Secret);
        var nonce = Create(service, Now);
        Assert.That(service.Verify(nonce, Realm, Now + 1000, 32, out var issued), Is.EqualTo(NonceStatus.Valid));
        Assert.That(issued, Is.EqualTo(Now));
    }

    [Test]
    public void A_nonce_is_base64url_text_safe_in_a_quoted_string()
    {
        var nonce = Encoding.ASCII.GetString(Create(new NonceService(), Now));
        Assert.That(nonce, Does.Match("^[A-Za-z0-9_-]{44}$"));
    }

    [Test]
    public void Nonces_differ_by_time()
    {
        var service = new NonceService(Secret);
        Assert.That(Create(service, Now), Is.Not.EqualTo(Create(service, Now + 1)));
    }

    [Test]
    public void Nonces_issued_in_the_same_millisecond_differ()
    {
        // Regression: two users challenged in one millisecond shared a nonce, and the second
        // user's first nonce count was refused as a replay of the first user's.
        var service = new NonceService(Secret);
        var nonces = Enumerable.Range(0, 1000).Select(_ => Encoding.ASCII.GetString(Create(service, Now))).ToHashSet();
        Assert.That(nonces, Has.Count.EqualTo(1000));
    }

    [Test]
    public void Past_its_lifetime_a_nonce_is_stale_not_invalid()
    {
        var service = new NonceService(Secret);
        var nonce = Create(service, Now);
        Assert.That(service.Verify(nonce, Realm, Now + 32_000, 32), Is.EqualTo(NonceStatus.Valid), "the last millisecond still counts");
        Assert.That(service.Verify(nonce, Realm, Now + 32_001, 32), Is.EqualTo(NonceStatus.Stale));
        Assert.That(service.Verify(nonce, Realm, Now + 86_400_000, 32), Is.EqualTo(NonceStatus.Stale));
    }

    [Test]
    public void Another_secret_makes_it_invalid()
    {
        var nonce = Create(new NonceService(Secret), Now);
        Assert.That(new NonceService().Verify(nonce, Realm, Now, 32), Is.EqualTo(NonceStatus.Invalid));
    }

    [Test]
    public void Another_realm_makes_it_invalid()
    {
        var service = new NonceService(Secret);
        var nonce = Create(service, Now);
        Assert.That(service.Verify(nonce, "example.org"u8, Now, 32), Is.EqualTo(NonceStatus.Invalid));
        Assert.That(service.Verify(nonce, "example.co"u8, Now, 32), Is.EqualTo(NonceStatus.Invalid));
    }

    [Test]
    public void A_forged_timestamp_is_invalid()
    {
        var service = new NonceService(Secret);
        var nonce = Create(service, Now - 3_600_000);
        // Move the timestamp forward to make an old nonce look fresh: the MAC no longer matches.
        var raw = new byte[33];
        Base64Url.DecodeFromUtf8(nonce, raw, out _, out _);
        BinaryPrimitives.WriteInt64BigEndian(raw, Now);
        var forged = new byte[44];
        Base64Url.EncodeToUtf8(raw, forged);
        Assert.That(service.Verify(forged, Realm, Now, 32), Is.EqualTo(NonceStatus.Invalid));
    }

    [Test]
    public void Every_single_character_change_is_invalid()
    {
        var service = new NonceService(Secret);
        var nonce = Create(service, Now);
        for (var i = 0; i < nonce.Length; i++)
        {
            var changed = (byte[])nonce.Clone();
            changed[i] = changed[i] == (byte)'A' ? (byte)'B' : (byte)'A';
            Assert.That(service.Verify(changed, Realm, Now, 32), Is.EqualTo(NonceStatus.Invalid), $"position {i}");
        }
    }

    [TestCase("")]
    [TestCase("short")]
    [TestCase("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [TestCase("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")]
    [TestCase("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")]
    [TestCase("AAAAAAAAAAAAAAAA AAAAAAAAAAAAAAA")]
    [TestCase("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v")]
    public void Garbage_is_invalid(string nonce) =>
        Assert.That(new NonceService(Secret).Verify(Encoding.ASCII.GetBytes(nonce), Realm, Now, 32), Is.EqualTo(NonceStatus.Invalid));

    [Test]
    public void A_nonce_from_the_future_is_invalid_beyond_the_clock_skew()
    {
        var service = new NonceService(Secret, maxClockSkewMs: 5_000);
        Assert.That(service.Verify(Create(service, Now + 5_000), Realm, Now, 32), Is.EqualTo(NonceStatus.Valid));
        Assert.That(service.Verify(Create(service, Now + 5_001), Realm, Now, 32), Is.EqualTo(NonceStatus.Invalid));
    }

    [Test]
    public void Nodes_sharing_a_secret_accept_each_others_nonces()
    {
        var nonce = Create(new NonceService(Secret), Now);
        Assert.That(new NonceService(Secret).Verify(nonce, Realm, Now, 32), Is.EqualTo(NonceStatus.Valid));
    }

    [Test]
    public void Long_realms_work()
    {
        var service = new NonceService(Secret);
        var realm = Encoding.ASCII.GetBytes(new string('r', 2000));
        var nonce = Create(service, Now, realm);
        Assert.That(service.Verify(nonce, realm, Now, 32), Is.EqualTo(NonceStatus.Valid));
        Assert.That(service.Verify(nonce, realm.AsSpan(1), Now, 32), Is.EqualTo(NonceStatus.Invalid));
    }

    [Test]
    public void Short_secrets_are_refused() => Assert.Throws<ArgumentException>(() => _ = new NonceService(new byte[15]));

    [Test]
    public void Creating_and_verifying_allocates_nothing()
    {
        var service = new NonceService(Secret);
        var nonce = new byte[NonceService.NonceLength];
        var valid = true;
        AllocationAssert.NothingPerCall(20_000, () =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                service.Create(nonce, Realm, Now + i);
                valid &= service.Verify(nonce, Realm, Now + i, 32) == NonceStatus.Valid;
            }
        });
        Assert.That(valid, Is.True);
    }
}
