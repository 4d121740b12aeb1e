using System.Net;
using PjSharp.Interception;
using PjSharp.Interception.Security;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interception.Security;

public class LogLimiterTests
{
    private static readonly SourceAddress Noisy = SourceAddress.FromIPAddress(IPAddress.Parse("10.0.0.1"));
    private static readonly SourceAddress Quiet = SourceAddress.FromIPAddress(IPAddress.Parse("10.0.0.2"));

    [Test]
    public void Five_lines_a_minute_then_a_summary_with_the_next_line()
    {
        var limiter = new LogLimiter(linesPerSource: 5);
        long suppressed;
        for (var i = 0; i < 5; i++)
        {
            Assert.That(limiter.TryLog(Noisy, i, out suppressed), Is.True);
            Assert.That(suppressed, Is.Zero);
        }
        for (var i = 0; i < 1234; i++)
            Assert.That(limiter.TryLog(Noisy, 100 + i, out _), Is.False);
        Assert.That(limiter.TryLog(Quiet, 200, out _), Is.True, "other sources still log");

        Assert.That(limiter.TryLog(Noisy, 60_000, out suppressed), Is.True, "a new minute");
        Assert.That(suppressed, Is.EqualTo(1234));
        Assert.That(limiter.TryLog(Noisy, 60_001, out suppressed), Is.True);
        Assert.That(suppressed, Is.Zero, "the summary is given once");
    }

    [Test]
    public void Sources_that_went_quiet_are_summarised_by_the_drain()
    {
        var limiter = new LogLimiter(linesPerSource: 1);
        limiter.TryLog(Noisy, 0, out _);
        limiter.TryLog(Noisy, 1, out _);
        limiter.TryLog(Noisy, 2, out _);
        var summaries = new SuppressedLines[4];
        Assert.That(limiter.DrainSummaries(30_000, summaries, out var others), Is.Zero, "not before the minute is over");
        Assert.That(others, Is.Zero);
        Assert.That(limiter.DrainSummaries(60_000, summaries, out _), Is.EqualTo(1));
        Assert.That(summaries[0], Is.EqualTo(new SuppressedLines(Noisy, 2)));
        Assert.That(summaries[0].Source.ToString(), Is.EqualTo("10.0.0.1"));
        Assert.That(limiter.DrainSummaries(120_000, summaries, out _), Is.Zero, "reported once");
        Assert.That(limiter.TryLog(Noisy, 120_000, out var suppressed), Is.True);
        Assert.That(suppressed, Is.Zero);
    }

    [Test]
    public void Summaries_are_logged_with_the_source_and_the_count()
    {
        var limiter = new LogLimiter(linesPerSource: 1);
        for (var i = 0; i < 1235; i++)
            limiter.TryLog(Noisy, i, out _);
        for (var i = 0; i < 3; i++)
            limiter.TryLog(Quiet, i, out _);
        using var logs = new ListLoggerProvider();
        Assert.That(limiter.ReportSummaries(logs.CreateLogger("security"), nowMs: 120_000), Is.EqualTo(2));
        Assert.That(logs.Entries.Select(e => (e.Id.Id, e.Message)), Is.EquivalentTo(new[]
        {
            (6010, "Suppressed 1234 log lines from 10.0.0.1"),
            (6010, "Suppressed 2 log lines from 10.0.0.2"),
        }));
        Assert.That(limiter.ReportSummaries(logs.CreateLogger("security"), nowMs: 120_000), Is.Zero, "each count is reported once");
    }

    [Test]
    public void A_global_ceiling_holds_back_a_distributed_flood()
    {
        var limiter = new LogLimiter(linesPerSource: 5, linesPerWindow: 100);
        var written = 0;
        for (var i = 0; i < 10_000; i++)
        {
            if (limiter.TryLog(SourceAddress.FromBytes([10, 1, (byte)(i >> 8), (byte)i]), 10, out _))
                written++;
        }
        Assert.That(written, Is.EqualTo(100));
        Assert.That(limiter.TryLog(Quiet, 60_000, out _), Is.True, "the next window opens again");
    }

    [Test]
    public void Counts_of_evicted_sources_are_reported_as_other_sources()
    {
        var limiter = new LogLimiter(linesPerSource: 1, capacity: 4);
        long held = 0;
        for (var i = 0; i < 1000; i++)
        {
            var source = SourceAddress.FromBytes([10, 2, (byte)(i >> 8), (byte)i]);
            limiter.TryLog(source, i, out _);
            if (!limiter.TryLog(source, i, out _))
                held++;
        }
        var summaries = new SuppressedLines[16];
        var listed = limiter.DrainSummaries(1_000_000, summaries, out var others);
        Assert.That(summaries.Take(listed).Sum(s => s.Count) + others, Is.EqualTo(held), "nothing is lost, only folded");
        Assert.That(others, Is.GreaterThan(0));
    }

    [Test]
    public void Concurrent_sources_get_their_quota_exactly()
    {
        var limiter = new LogLimiter(linesPerSource: 5, linesPerWindow: 1_000_000);
        var written = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                if (limiter.TryLog(SourceAddress.FromBytes([10, 3, 0, (byte)(i % 50)]), 5, out _))
                    Interlocked.Increment(ref written);
            }
        });
        Assert.That(written, Is.EqualTo(50 * 5));
    }

    [Test]
    public void Deciding_allocates_nothing()
    {
        var limiter = new LogLimiter();
        var summaries = new SuppressedLines[8];
        var round = 0;
        AllocationAssert.NothingPerCall(10_000, () =>
        {
            // Each round a minute later: lines written, held back, and summaries handed out.
            var start = round++ * 60_000L;
            for (var i = 0; i < 10_000; i++)
                limiter.TryLog(SourceAddress.FromBytes([10, 4, 0, (byte)(i % 16)]), start + i, out _);
            limiter.DrainSummaries(start + 120_000, summaries, out _);
        });
    }
}
