using System.Globalization;
using System.Text;

namespace PjSharp.Testing.Soak;

/// <summary>pjsip's memory at one moment: pools in use (each transaction, dialog, session and media stream holds some), the bytes they reserve and use, and the transactions alive.</summary>
public readonly record struct PoolFigures(long PoolsInUse, long CapacityBytes, long UsedBytes, int Transactions);

/// <summary>One interval's figures; <see cref="Index"/> 0 is the baseline taken before any traffic.</summary>
public sealed record SoakRow(
    int Index, TimeSpan At, TimeSpan Length, double LoadAverage, double CpuShare, IReadOnlyList<StreamInterval> Streams,
    ProcessFigures Process, PoolFigures Pool, long DatabaseBytes, int Warnings, int Errors)
{
    public long Failed => Streams.Sum(s => s.Failed);

    public long Retransmissions => Streams.Sum(s => s.Retransmissions);
}

/// <summary>Whether a figure rose over the soak beyond its noise.</summary>
public enum TrendVerdict
{
    Flat,
    Growing,
    TooFewPoints,
}

/// <summary>
/// A least-squares line through one figure's rows after the warm-up: the slope per hour with its standard error, and
/// the same over the last half of those rows. A figure grows when its slope is both significant (more than twice its
/// standard error) and material (over an hour, more than <c>relativeFloor</c> of its mean and more than
/// <c>absoluteFloor</c>), over all the rows and over the last half alike: a leak climbs at the same pace to the end,
/// while memory settling towards its level (the allocator reusing blocks whose pages were never touched yet) slows
/// down and stops. Anything less is noise.
/// </summary>
public sealed record Trend(string Name, string Unit, double Scale, double PerHour, double StandardError, double LastHalfPerHour, double LastHalfError,
    double Mean, int Points, TrendVerdict Verdict, bool Judged)
{
    public static Trend Fit(string name, string unit, double scale, IReadOnlyList<(TimeSpan At, double Value)> points, bool judged,
        double relativeFloor = 0.02, double absoluteFloor = 0)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count < 3)
            return new Trend(name, unit, scale, double.NaN, double.NaN, double.NaN, double.NaN, points.Count > 0 ? points.Average(p => p.Value) : double.NaN, points.Count, TrendVerdict.TooFewPoints, judged);
        var mean = points.Average(p => p.Value);
        var floor = Math.Max(Math.Abs(mean) * relativeFloor, absoluteFloor);
        var (slope, error) = LeastSquares(points.Select(p => (p.At.TotalHours, p.Value)).ToList());
        var growing = slope > 2 * error && slope > floor;
        var (lastSlope, lastError) = (double.NaN, double.NaN);
        if (points.Count >= 6)
        {
            (lastSlope, lastError) = LeastSquares(points.Skip(points.Count / 2).Select(p => (p.At.TotalHours, p.Value)).ToList());
            growing &= lastSlope > 2 * lastError && lastSlope > floor;
        }
        return new Trend(name, unit, scale, slope, error, lastSlope, lastError, mean, points.Count, growing ? TrendVerdict.Growing : TrendVerdict.Flat, judged);
    }

    /// <summary>The slope of the least-squares line through the points and its standard error.</summary>
    public static (double Slope, double StandardError) LeastSquares(IReadOnlyList<(double X, double Y)> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var n = points.Count;
        if (n < 2)
            return (double.NaN, double.NaN);
        var meanX = points.Average(p => p.X);
        var meanY = points.Average(p => p.Y);
        double sxx = 0, sxy = 0;
        foreach (var (x, y) in points)
        {
            sxx += (x - meanX) * (x - meanX);
            sxy += (x - meanX) * (y - meanY);
        }
        if (sxx == 0)
            return (double.NaN, double.NaN);
        var slope = sxy / sxx;
        if (n < 3)
            return (slope, double.NaN);
        var intercept = meanY - slope * meanX;
        var residuals = points.Sum(p => Math.Pow(p.Y - (intercept + slope * p.X), 2));
        return (slope, Math.Sqrt(residuals / (n - 2) / sxx));
    }

    public string Format()
    {
        var verdict = Verdict switch
        {
            TrendVerdict.Growing => Judged ? "GROWING" : "rising",
            TrendVerdict.TooFewPoints => "too few rows",
            _ => "flat",
        };
        if (Verdict == TrendVerdict.TooFewPoints)
            return string.Create(CultureInfo.InvariantCulture, $"   {Name,-22} {"-",12} {"",12} {"",12} {"",12} {"",14}  {verdict}");
        return string.Create(CultureInfo.InvariantCulture,
            $"   {Name,-22} {Slope(PerHour),12} {Error(StandardError),12} {Slope(LastHalfPerHour),12} {Error(LastHalfError),12} {Mean / Scale,14:0.00}  {Unit}; {verdict}{(Judged ? "" : " (not judged)")}");
    }

    /// <summary>The column heads of <see cref="Format"/>.</summary>
    public static string Header => string.Create(CultureInfo.InvariantCulture,
        $"   {"figure",-22} {"per hour",12} {"",12} {"last half",12} {"",12} {"mean",14}");

    private string Slope(double value) => double.IsNaN(value) ? "-" : (value / Scale).ToString("+0.00;-0.00", CultureInfo.InvariantCulture);

    private string Error(double value) => double.IsNaN(value) ? "" : "± " + (value / Scale).ToString("0.00", CultureInfo.InvariantCulture);
}

/// <summary>Everything a soak saw: the rows, each stream's totals, the trends after the warm-up, and the verdict.</summary>
public sealed class SoakReport
{
    public required SoakSettings Settings { get; init; }

    public required IReadOnlyList<string> StreamNames { get; init; }

    public required SoakRow Baseline { get; init; }

    public required IReadOnlyList<SoakRow> Rows { get; init; }

    public required IReadOnlyList<StreamTotal> Totals { get; init; }

    public required IReadOnlyList<string> LoggedProblems { get; init; }

    public required int Warnings { get; init; }

    public required int Errors { get; init; }

    /// <summary>Why the soak stopped before its time (its memory ran away), or null.</summary>
    public string? Stopped { get; init; }

    public IReadOnlyList<Trend> Trends => _trends ??= FitTrends();

    private IReadOnlyList<Trend>? _trends;

    /// <summary>Rows whose figures the slopes are fitted to.</summary>
    public IReadOnlyList<SoakRow> SteadyRows => [.. Rows.Skip(Settings.WarmupRows)];

    public bool ZeroFailures => Totals.All(t => t.Lost == 0) && Rows.All(r => r.Failed == 0);

    /// <summary>Memory and handles: no judged figure grows (true, unjudged, when there are too few rows to fit a line).</summary>
    public bool Flat => Trends.Where(t => t.Judged).All(t => t.Verdict != TrendVerdict.Growing);

    /// <summary>Whether there were rows enough after the warm-up to judge the slopes (3 at least).</summary>
    public bool SlopesJudged => Trends.Where(t => t.Judged).All(t => t.Verdict != TrendVerdict.TooFewPoints);

    public bool Passed => ZeroFailures && Flat && Stopped == null;

    private List<Trend> FitTrends()
    {
        var steady = SteadyRows;
        List<(TimeSpan, double)> Of(Func<SoakRow, double> figure) => [.. steady.Select(r => (r.At, figure(r)))];
        const double MiB = 1024 * 1024;
        var trends = new List<Trend>
        {
            Trend.Fit("RSS", "MiB", MiB, Of(r => r.Process.ResidentBytes), judged: true, absoluteFloor: 8 * MiB),
            Trend.Fit("managed heap", "MiB", MiB, Of(r => r.Process.ManagedHeapBytes), judged: true, absoluteFloor: 4 * MiB),
            Trend.Fit("malloc in use", "MiB", MiB, Of(r => r.Process.MallocInUseBytes), judged: true, absoluteFloor: 8 * MiB),
            Trend.Fit("malloc free, kept", "MiB", MiB, Of(r => r.Process.MallocFreeBytes), judged: false),
            Trend.Fit("pjsip pools in use", "MiB", MiB, Of(r => r.Pool.CapacityBytes), judged: true, absoluteFloor: 2 * MiB),
            Trend.Fit("pjsip pools in use", "pools", 1, Of(r => r.Pool.PoolsInUse), judged: true, absoluteFloor: 50),
            Trend.Fit("pjsip transactions", "tsx", 1, Of(r => r.Pool.Transactions), judged: false),
            Trend.Fit("open files", "fds", 1, Of(r => r.Process.OpenFiles), judged: true, absoluteFloor: 4),
            Trend.Fit("threads", "threads", 1, Of(r => r.Process.Threads), judged: true, absoluteFloor: 4),
            Trend.Fit("database files", "MiB", MiB, Of(r => r.DatabaseBytes), judged: false),
            Trend.Fit("server CPU", "% core", 0.01, Of(r => r.CpuShare), judged: false),
        };
        for (var i = 0; i < StreamNames.Count; i++)
        {
            var stream = i;
            trends.Add(Trend.Fit($"{StreamNames[i]} p99", "ms", 1, [.. steady.Where(r => r.Streams[stream].Latency.Count > 0).Select(r => (r.At, (double)r.Streams[stream].Latency.P99))], judged: false));
        }
        return trends;
    }

    /// <summary>The column heads of <see cref="FormatRow"/>.</summary>
    public static string Header(IReadOnlyList<string> streams)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{"min",5} {"load",5} {"cpu",5} |"));
        foreach (var name in streams)
            text.Append(CultureInfo.InvariantCulture, $" {name + "/s",10} {"fail",4} {"p50/95/99 ms",12} |");
        text.Append(CultureInfo.InvariantCulture,
            $" {"retr",5} {"RSS MiB",8} {"heap MiB",8} {"malloc",7} {"pool MiB",9} {"pools",7} {"tsx",7} {"fds",5} {"thr",4} {"db MiB",7} {"warn/err",8}");
        return text.ToString();
    }

    public static string FormatRow(SoakRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        const double MiB = 1024 * 1024;
        var minute = row.Index == 0 ? "0" : (row.At.TotalMinutes).ToString("0.#", CultureInfo.InvariantCulture);
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{minute,5} {row.LoadAverage,5:0.00} {row.CpuShare,5:P0} |"));
        foreach (var stream in row.Streams)
            text.Append(CultureInfo.InvariantCulture, $" {stream.Rate(row.Length),10:0} {stream.Failed,4} {stream.Latency,12} |");
        text.Append(CultureInfo.InvariantCulture,
            $" {row.Retransmissions,5} {row.Process.ResidentBytes / MiB,8:0.0} {row.Process.ManagedHeapBytes / MiB,8:0.0} {row.Process.MallocInUseBytes / MiB,7:0} {row.Pool.CapacityBytes / MiB,9:0.0} {row.Pool.PoolsInUse,7} {row.Pool.Transactions,7} {row.Process.OpenFiles,5} {row.Process.Threads,4} {row.DatabaseBytes / MiB,7:0.0} {row.Warnings + "/" + row.Errors,8}");
        return text.ToString();
    }

    /// <summary>Totals, slopes and the verdict, as printed after the last row.</summary>
    public string FormatSummary()
    {
        var text = new StringBuilder();
        text.AppendLine("streams (SIPp's final counters; lost = failed + never finished):");
        foreach (var total in Totals)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"   {total.Name,-9} {total.Successful,10} of {total.Expected,10} completed, {total.Failed} failed, {total.Unfinished} unfinished, {total.Retransmissions} retransmissions"));
            if (total.Problem.Length > 0)
                text.AppendLine("      " + total.Problem.Replace("\n", "\n      ", StringComparison.Ordinal));
        }
        if (Warnings + Errors > 0)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"server log: {Warnings} warnings, {Errors} errors; the first:"));
            foreach (var line in LoggedProblems)
                text.AppendLine("   " + line);
        }
        var steady = SteadyRows;
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"slopes per hour (least squares over rows {Settings.WarmupRows + 1}..{Rows.Count}, {steady.Count} rows after a warm-up of {Settings.WarmupRows}, and over the last half of them; growing = both slopes > 2 standard errors and > 2% of the mean per hour and the figure's floor):"));
        text.AppendLine(Trend.Header);
        foreach (var trend in Trends)
            text.AppendLine(trend.Format());
        var growing = Trends.Where(t => t.Judged && t.Verdict == TrendVerdict.Growing).Select(t => $"{t.Name} ({t.Unit}) grows").ToList();
        var memory = !SlopesJudged
            ? $"memory and handles not judged ({steady.Count} rows after the warm-up, 3 needed)"
            : Flat ? "memory and handles flat" : "not flat: " + string.Join(", ", growing);
        var failures = ZeroFailures ? "zero failures" : $"{Math.Max(Totals.Sum(t => t.Lost), Rows.Sum(r => r.Failed))} calls failed";
        var logged = Warnings + Errors > 0 ? $" (the server logged {Warnings} warnings and {Errors} errors, listed above)" : "";
        var early = Stopped != null ? $"stopped early ({Stopped}), " : "";
        var rss = Trends.FirstOrDefault(t => t.Name == "RSS");
        var malloc = Trends.FirstOrDefault(t => t.Name == "malloc in use");
        if (rss?.Verdict == TrendVerdict.Growing && malloc is { Verdict: TrendVerdict.Flat, Mean: > 0 })
            text.AppendLine("note: RSS grows while malloc's bytes in use do not: memory freed but kept by the allocator (fragmentation across its arenas), not a leak; a longer run shows whether it levels off");
        text.AppendLine(CultureInfo.InvariantCulture, $"verdict: {(Passed ? "PASS" : "FAIL")}: {early}{failures}, {memory}{logged}");
        return text.ToString();
    }
}
