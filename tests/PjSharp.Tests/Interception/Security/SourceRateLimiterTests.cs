using System.Net;
using PjSharp.Interception;
using PjSharp.Interception.Security;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception.Security;

public class SourceRateLimiterTests
{
    private static readonly SourceAddress Attacker = SourceAddress.FromIPAddress(IPAddress.Parse("10.0.0.1"));
    private static readonly SourceAddress Neighbour = SourceAddress.FromIPAddress(IPAddress.Parse("10.0.0.2"));

    private static SourceRateLimiter Limiter(int capacity = 1024) =>
        new(maxEvents: 5, window: TimeSpan.FromSeconds(10), blockFor: TimeSpan.FromMinutes(1), capacity: capacity);

    [Test]
    public void Blocks_after_the_limit_and_releases_after_the_block()
    {
        var limiter = Limiter();
        for (var i = 0; i < 5; i++)
            Assert.That(limiter.Record(Attacker, 1000 + i), Is.False, $"event {i + 1}");
        Assert.That(limiter.Record(Attacker, 1005), Is.True, "the sixth event in the window");
        Assert.That(limiter.IsBlocked(Attacker, 1006), Is.True);
        Assert.That(limiter.Record(Attacker, 30_000), Is.True, "still blocked");
        Assert.That(limiter.IsBlocked(Neighbour, 1006), Is.False, "only that source");
        Assert.That(limiter.IsBlocked(Attacker, 61_005), Is.False, "the block ends");
        Assert.That(limiter.Record(Attacker, 61_005), Is.False, "and counting starts again");
    }

    [Test]
    public void Forgets_after_the_window()
    {
        var limiter = Limiter();
        for (var i = 0; i < 5; i++)
            Assert.That(limiter.Record(Attacker, i), Is.False);
        for (var i = 0; i < 5; i++)
            Assert.That(limiter.Record(Attacker, 10_000 + i), Is.False, "a new window");
        Assert.That(limiter.Record(Attacker, 10_005), Is.True);
    }

    [Test]
    public void IsBlocked_does_not_count()
    {
        var limiter = Limiter();
        for (var i = 0; i < 100; i++)
            Assert.That(limiter.IsBlocked(Attacker, i), Is.False);
        Assert.That(limiter.Record(Attacker, 100), Is.False);
    }

    [Test]
    public void Ipv4_and_its_mapped_ipv6_form_are_one_source()
    {
        var limiter = Limiter();
        var mapped = SourceAddress.FromIPAddress(IPAddress.Parse("::ffff:10.0.0.1"));
        Assert.That(mapped, Is.EqualTo(Attacker));
        for (var i = 0; i < 5; i++)
            limiter.Record(i % 2 == 0 ? Attacker : mapped, i);
        Assert.That(limiter.Record(mapped, 5), Is.True);
    }

    [Test]
    public void Ipv6_sources_are_counted_per_64_prefix()
    {
        var limiter = Limiter();
        for (var i = 0; i < 5; i++)
            Assert.That(limiter.Record(SourceAddress.FromIPAddress(IPAddress.Parse($"2001:db8:1:2::{i + 1:x}")), i), Is.False);
        Assert.That(limiter.Record(SourceAddress.FromIPAddress(IPAddress.Parse("2001:db8:1:2:ffff:ffff:ffff:ffff")), 5), Is.True, "another address in the same /64");
        Assert.That(limiter.Record(SourceAddress.FromIPAddress(IPAddress.Parse("2001:db8:1:3::1")), 5), Is.False, "the next /64 is someone else");
    }

    [Test]
    public void Addresses_from_bytes_match_addresses_from_IPAddress()
    {
        Assert.That(SourceAddress.FromBytes([10, 0, 0, 1]), Is.EqualTo(Attacker));
        Assert.That(SourceAddress.FromBytes(IPAddress.IPv6Loopback.GetAddressBytes()), Is.EqualTo(SourceAddress.FromIPAddress(IPAddress.IPv6Loopback)));
        Assert.That(Attacker.ToString(), Is.EqualTo("10.0.0.1"));
        Assert.That(SourceAddress.FromIPAddress(IPAddress.Parse("2001:db8:1:2::7")).WithIPv6Prefix(64).ToString(), Is.EqualTo("2001:db8:1:2::/64"));
        Assert.Throws<ArgumentException>(() => SourceAddress.FromBytes([1, 2, 3]));
    }

    [Test]
    public void Blocked_sources_survive_a_flood_of_new_addresses()
    {
        var limiter = Limiter(capacity: 64);
        for (var i = 0; i <= 5; i++)
            limiter.Record(Attacker, i);
        Assert.That(limiter.IsBlocked(Attacker, 10), Is.True);
        Span<byte> address = stackalloc byte[4];
        for (var i = 0; i < 100_000; i++)
        {
            address[0] = 192;
            address[1] = (byte)(i >> 16);
            address[2] = (byte)(i >> 8);
            address[3] = (byte)i;
            limiter.Record(SourceAddress.FromBytes(address), 20);
        }
        Assert.That(limiter.IsBlocked(Attacker, 30), Is.True);
    }

    [Test]
    public void Memory_stays_bounded_under_a_million_sources()
    {
        var limiter = Limiter(capacity: 16_384);
        var round = 0;
        // Every pass is a million sources the table has not seen; none may cost memory.
        AllocationAssert.NothingPerCall(1_000_000, () =>
        {
            Span<byte> address = stackalloc byte[16];
            address[0] = 0x20;
            address[1] = 0x01;
            address[2] = (byte)round++;
            for (var i = 0; i < 1_000_000; i++)
            {
                // A distinct /64 each time, all within one window, so every source is live.
                System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(address[4..], i);
                limiter.Record(SourceAddress.FromBytes(address), i / 1000);
            }
        });
        Assert.That(limiter.CountActive(1000), Is.EqualTo(limiter.Capacity), "the table is full, and no larger");
        Assert.That(limiter.Capacity, Is.EqualTo(16_384));
    }

    [Test]
    public void Concurrent_recording_counts_every_event()
    {
        var limiter = new SourceRateLimiter(maxEvents: 8000, window: TimeSpan.FromHours(1), blockFor: TimeSpan.FromMinutes(1));
        var over = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            for (var i = 0; i < 1001; i++)
            {
                if (limiter.Record(Attacker, 1))
                    Interlocked.Increment(ref over);
            }
        });
        // 8008 events against a limit of 8000: exactly the 8001st trips it, and the 7 after it are blocked.
        Assert.That(over, Is.EqualTo(8));
    }

    [Test]
    public void Recording_allocates_nothing()
    {
        var limiter = Limiter();
        var round = 0L;
        AllocationAssert.NothingPerCall(20_000, () =>
        {
            var start = round++ * 1_000_000;
            for (var i = 0; i < 10_000; i++)
            {
                limiter.Record(Attacker, start + i);
                limiter.IsBlocked(Neighbour, start + i);
            }
        });
    }
}
