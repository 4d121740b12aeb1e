using PjSharp.Testing.Soak;

namespace PjSharp.Server.Tests.Soak;

/// <summary>The soak's arithmetic: percentiles, least squares, and the verdict, which must fail on a lost call or a rising figure.</summary>
public sealed class SoakReportTests
{
    private const long MiB = 1024 * 1024;

    [Test]
    public void Least_squares_gives_the_slope_and_no_error_on_a_straight_line()
    {
        var (slope, error) = Trend.LeastSquares([(0, 1), (1, 3), (2, 5), (3, 7)]);

        Assert.That(slope, Is.EqualTo(2).Within(1e-9));
        Assert.That(error, Is.EqualTo(0).Within(1e-9));
    }

    [Test]
    public void A_figure_rising_beyond_its_noise_grows_and_a_noisy_flat_one_does_not()
    {
        var random = new Random(12);
        var minutes = Enumerable.Range(1, 30).Select(m => TimeSpan.FromMinutes(m)).ToList();
        // 500 MiB give or take 5, and the same with 1 MiB a minute on top (60 MiB an hour, 12% of the mean).
        var flat = minutes.Select(m => (m, 500 * MiB + (random.NextDouble() - 0.5) * 10 * MiB)).ToList();
        var rising = minutes.Select((m, i) => (m, 500 * MiB + i * MiB + (random.NextDouble() - 0.5) * 10 * MiB)).ToList();

        var flatTrend = Trend.Fit("RSS", "MiB", MiB, flat, judged: true, absoluteFloor: 8 * MiB);
        var risingTrend = Trend.Fit("RSS", "MiB", MiB, rising, judged: true, absoluteFloor: 8 * MiB);

        Assert.That(flatTrend.Verdict, Is.EqualTo(TrendVerdict.Flat), flatTrend.Format());
        Assert.That(risingTrend.Verdict, Is.EqualTo(TrendVerdict.Growing), risingTrend.Format());
        Assert.That(risingTrend.PerHour / MiB, Is.EqualTo(60).Within(6));
        Assert.That(Trend.Fit("RSS", "MiB", MiB, flat[..2], judged: true).Verdict, Is.EqualTo(TrendVerdict.TooFewPoints));
    }

    [Test]
    public void A_small_but_certain_rise_below_the_floor_is_noise()
    {
        // 1 MiB an hour on 500 MiB, measured without noise: significant, not material.
        var points = Enumerable.Range(1, 30).Select(m => (TimeSpan.FromMinutes(m), 500 * MiB + m * MiB / 60.0)).ToList();

        Assert.That(Trend.Fit("RSS", "MiB", MiB, points, judged: true, absoluteFloor: 8 * MiB).Verdict, Is.EqualTo(TrendVerdict.Flat));
    }

    [Test]
    public void Memory_settling_towards_its_level_is_not_a_leak()
    {
        // RSS climbing 100 MiB towards a plateau (time constant 3 minutes): steep at first, level by the last half.
        var points = Enumerable.Range(1, 30).Select(m => (TimeSpan.FromMinutes(m), 500 * MiB + 100 * MiB * (1 - Math.Exp(-m / 3.0)))).ToList();

        var trend = Trend.Fit("RSS", "MiB", MiB, points, judged: true, absoluteFloor: 8 * MiB);

        Assert.That(trend.PerHour / MiB, Is.GreaterThan(60), "over all the rows it rises");
        Assert.That(trend.Verdict, Is.EqualTo(TrendVerdict.Flat), trend.Format());
    }

    [Test]
    public void Percentiles_come_from_whole_millisecond_counts()
    {
        var histogram = new long[10_001];
        histogram[0] = 50;
        histogram[1] = 45;
        histogram[4] = 4;
        histogram[30] = 1;

        var percentiles = SoakTraffic.Summarize(histogram);

        Assert.That(percentiles, Is.EqualTo(new Percentiles(100, 0, 1, 4, 30)));
        Assert.That(percentiles.ToString(), Is.EqualTo("0/1/4"));
        Assert.That(SoakTraffic.Summarize(new long[10]).Count, Is.Zero);
    }

    [Test]
    public void The_verdict_fails_on_a_lost_call_and_on_growing_memory_and_passes_otherwise()
    {
        var clean = Report(lost: 0, rssPerMinute: 0);
        var lost = Report(lost: 1, rssPerMinute: 0);
        var leaking = Report(lost: 0, rssPerMinute: 2 * MiB);

        Assert.That(clean.Passed, Is.True, clean.FormatSummary());
        Assert.That(clean.FormatSummary(), Does.Contain("verdict: PASS: zero failures, memory and handles flat"));
        Assert.That(lost.Passed, Is.False);
        Assert.That(lost.FormatSummary(), Does.Contain("verdict: FAIL: 1 calls failed"));
        Assert.That(leaking.Passed, Is.False);
        Assert.That(leaking.FormatSummary(), Does.Contain("not flat: RSS (MiB) grows"));
    }

    private static SoakReport Report(long lost, double rssPerMinute)
    {
        var random = new Random(7);
        var settings = new SoakSettings { Duration = TimeSpan.FromMinutes(20), WarmupRows = 2 };
        var rows = Enumerable.Range(1, 20).Select(m => new SoakRow(
            m, TimeSpan.FromMinutes(m), TimeSpan.FromMinutes(1), 1.0, 0.7,
            [new StreamInterval(60_000, 0, 0, new Percentiles(60_000, 1, 3, 8, 40))],
            new ProcessFigures((long)(400 * MiB + m * rssPerMinute + random.Next(0, (int)MiB)), 60 * MiB, 200, 30, TimeSpan.FromMinutes(m * 0.7)),
            new PoolFigures(1000, 40 * MiB, 20 * MiB, 300), 30 * MiB, 0, 0)).ToList();
        return new SoakReport
        {
            Settings = settings,
            StreamNames = ["REGISTER"],
            Baseline = rows[0] with { Index = 0, At = TimeSpan.Zero },
            Rows = rows,
            Totals = [new StreamTotal("REGISTER", 1_200_000, 1_200_000 - lost, lost, 0, 0, "")],
            LoggedProblems = [],
            Warnings = 0,
            Errors = 0,
        };
    }
}
