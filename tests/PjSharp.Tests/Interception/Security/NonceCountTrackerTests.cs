using System.Text;
using PjSharp.Interception.Security;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception.Security;

public class NonceCountTrackerTests
{
    private const long Issued = 1_700_000_000_000;

    private static byte[] Nonce(int i) => Encoding.ASCII.GetBytes($"nonce-{i:D8}");

    [Test]
    public void Increasing_counts_are_accepted_and_a_repeated_count_is_a_replay()
    {
        var tracker = new NonceCountTracker();
        var nonce = Nonce(1);
        Assert.That(tracker.TryUse(nonce, Issued, 1, hasQop: true), Is.True);
        Assert.That(tracker.TryUse(nonce, Issued, 2, hasQop: true), Is.True);
        Assert.That(tracker.Use(nonce, Issued, 2, hasQop: true), Is.EqualTo(NonceUse.Repeated));
        Assert.That(tracker.Use(nonce, Issued, 1, hasQop: true), Is.EqualTo(NonceUse.Repeated));
        Assert.That(tracker.TryUse(nonce, Issued, 10, hasQop: true), Is.True, "gaps are allowed");
    }

    [Test]
    public void Counts_arriving_out_of_order_are_each_accepted_once()
    {
        var tracker = new NonceCountTracker();
        var nonce = Nonce(1);
        Assert.That(tracker.TryUse(nonce, Issued, 5, true), Is.True);
        Assert.That(tracker.TryUse(nonce, Issued, 3, true), Is.True);
        Assert.That(tracker.TryUse(nonce, Issued, 4, true), Is.True);
        Assert.That(tracker.TryUse(nonce, Issued, 3, true), Is.False);
        Assert.That(tracker.TryUse(nonce, Issued, 4, true), Is.False);
        Assert.That(tracker.TryUse(nonce, Issued, 5, true), Is.False);
    }

    [Test]
    public void Counts_older_than_the_window_are_refused()
    {
        var tracker = new NonceCountTracker();
        var nonce = Nonce(1);
        Assert.That(tracker.TryUse(nonce, Issued, 100, true), Is.True);
        Assert.That(tracker.TryUse(nonce, Issued, 37, true), Is.True, "63 below the highest is inside the window");
        Assert.That(tracker.TryUse(nonce, Issued, 36, true), Is.False, "64 below is outside");
        Assert.That(tracker.TryUse(nonce, Issued, 1, true), Is.False);
        Assert.That(tracker.TryUse(nonce, Issued, 1000, true), Is.True);
        Assert.That(tracker.TryUse(nonce, Issued, 100, true), Is.False, "after a jump, old counts stay refused");
    }

    [Test]
    public void Nonce_count_zero_is_refused() =>
        Assert.That(new NonceCountTracker().TryUse(Nonce(1), Issued, 0, true), Is.False);

    [Test]
    public void Without_qop_a_nonce_is_single_use()
    {
        var tracker = new NonceCountTracker();
        var nonce = Nonce(1);
        Assert.That(tracker.TryUse(nonce, Issued, 0, hasQop: false), Is.True);
        Assert.That(tracker.TryUse(nonce, Issued, 0, hasQop: false), Is.False);
        Assert.That(tracker.TryUse(nonce, Issued, 2, hasQop: true), Is.False, "nor can it be reused with qop");
    }

    [Test]
    public void A_nonce_used_with_qop_cannot_then_be_used_without()
    {
        var tracker = new NonceCountTracker();
        Assert.That(tracker.TryUse(Nonce(1), Issued, 1, true), Is.True);
        Assert.That(tracker.TryUse(Nonce(1), Issued, 0, false), Is.False);
    }

    [Test]
    public void Nonces_are_tracked_separately()
    {
        var tracker = new NonceCountTracker();
        Assert.That(tracker.TryUse(Nonce(1), Issued, 1, true), Is.True);
        Assert.That(tracker.TryUse(Nonce(2), Issued, 1, true), Is.True);
        Assert.That(tracker.TryUse(Nonce(1), Issued, 1, true), Is.False);
    }

    [Test]
    public void A_million_fresh_nonces_from_one_service_are_each_accepted_on_first_use()
    {
        // As a busy registrar issues them: one service, a millisecond apart, each used once with nc=1.
        // Any two sharing a key would make the second a false replay.
        var service = new NonceService();
        var tracker = new NonceCountTracker();
        var realm = Encoding.ASCII.GetBytes("asterisk");
        var nonce = new byte[NonceService.NonceLength];
        var keys = new HashSet<ulong>();
        var refused = 0;
        for (var i = 0; i < 1_000_000; i++)
        {
            service.Create(nonce, realm, Issued + i);
            keys.Add(tracker.KeyOf(nonce));
            if (tracker.Use(nonce, Issued + i, 1, hasQop: true) != NonceUse.Accepted)
                refused++;
        }
        Assert.That((keys.Count, refused), Is.EqualTo((1_000_000, 0)), "distinct keys, and no first use refused");
    }

    [Test]
    public void Eviction_never_lets_a_replay_through()
    {
        var tracker = new NonceCountTracker(capacity: 8);
        var victim = Nonce(0);
        Assert.That(tracker.TryUse(victim, Issued, 1, true), Is.True);
        Assert.That(tracker.TryUse(Nonce(-1), Issued, 0, false), Is.True);
        // Far more newer nonces than the table holds: the first two are certainly evicted.
        for (var i = 1; i <= 1000; i++)
            Assert.That(tracker.TryUse(Nonce(i), Issued + i, 1, true), Is.True);

        Assert.That(tracker.Use(victim, Issued, 1, true), Is.EqualTo(NonceUse.Forgotten), "the replayed request");
        Assert.That(tracker.Use(victim, Issued, 2, true), Is.EqualTo(NonceUse.Forgotten), "an evicted nonce gets a fresh challenge, even with a new count");
        Assert.That(tracker.TryUse(Nonce(-1), Issued, 0, false), Is.False, "a single-use nonce stays used");
        Assert.That(tracker.TryUse(Nonce(5000), Issued + 5000, 1, true), Is.True, "a nonce issued after the evictions is new");
    }

    [Test]
    public void Every_replay_is_refused_under_heavy_churn()
    {
        // Replays of every (nonce, count) ever accepted, interleaved with new traffic on a small table.
        var tracker = new NonceCountTracker(capacity: 64);
        var random = new Random(7616);
        var accepted = new List<(int Nonce, uint Count)>();
        var next = new Dictionary<int, uint>();
        for (var step = 0; step < 20_000; step++)
        {
            if (accepted.Count > 0 && random.Next(3) == 0)
            {
                var (nonce, count) = accepted[random.Next(accepted.Count)];
                Assert.That(tracker.TryUse(Nonce(nonce), Issued + nonce, count, true), Is.False, $"replay of nonce {nonce} nc {count}");
                continue;
            }
            var id = random.Next(Math.Max(1, step / 10), (step / 10) + 50);
            var nc = next.GetValueOrDefault(id) + 1;
            next[id] = nc;
            if (tracker.TryUse(Nonce(id), Issued + id, nc, true))
                accepted.Add((id, nc));
        }
        Assert.That(accepted, Has.Count.GreaterThan(1000), "new uses were mostly accepted");
    }

    [Test]
    public void Concurrent_uses_of_one_count_succeed_exactly_once()
    {
        var tracker = new NonceCountTracker();
        const int counts = 2000;
        var wins = new int[counts + 1];
        var nonce = Nonce(42);
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            for (uint nc = 1; nc <= counts; nc++)
            {
                if (tracker.TryUse(nonce, Issued, nc, true))
                    Interlocked.Increment(ref wins[nc]);
            }
        });
        Assert.That(wins.Skip(1).Sum(), Is.LessThanOrEqualTo(counts));
        Assert.That(wins.Skip(1), Has.All.LessThanOrEqualTo(1));
        Assert.That(wins[counts], Is.EqualTo(1));
    }

    [Test]
    public void Tracking_allocates_nothing()
    {
        var tracker = new NonceCountTracker(capacity: 1024);
        var nonces = Enumerable.Range(0, 5000).Select(Nonce).ToArray();
        var round = 0u;
        AllocationAssert.NothingPerCall(10_000, () =>
        {
            // New nonces, evictions, advancing counts and replays.
            for (var i = 0; i < 10_000; i++)
                tracker.TryUse(nonces[i % nonces.Length], Issued + (i % nonces.Length), (round * 2) + (uint)(i / nonces.Length) + 1, true);
            round++;
        });
    }

    [Test]
    public void Capacity_is_fixed_and_rounded_up() =>
        Assert.That(new NonceCountTracker(1000).Capacity, Is.EqualTo(1024));
}
