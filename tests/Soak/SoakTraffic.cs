using System.Globalization;
using System.Text;
using PjSharp.Testing.Sipp;

namespace PjSharp.Testing.Soak;

/// <summary>What one stream did in one interval: counts are differences of SIPp's cumulative counters.</summary>
public readonly record struct StreamInterval(long Successful, long Failed, long Retransmissions, Percentiles Latency)
{
    public double Rate(TimeSpan interval) => interval > TimeSpan.Zero ? Successful / interval.TotalSeconds : 0;
}

/// <summary>Response-time percentiles in milliseconds (SIPp measures whole milliseconds); Count 0 when there were none.</summary>
public readonly record struct Percentiles(long Count, int P50, int P95, int P99, int Max)
{
    public override string ToString() => Count == 0
        ? "-"
        : string.Create(CultureInfo.InvariantCulture, $"{P50}/{P95}/{P99}");
}

/// <summary>How a stream ended: SIPp's final counters, and what went wrong if anything did.</summary>
public sealed record StreamTotal(string Name, long Expected, long Successful, long Failed, long Unfinished, long Retransmissions, string Problem)
{
    /// <summary>Calls that failed or never finished.</summary>
    public long Lost => Failed + Unfinished;
}

/// <summary>
/// One stream of soak traffic: a SIPp client running for the whole soak (and, for bridged calls, the SIPp phone that
/// answers), read incrementally: the last row of its statistics file, and the response times it appends to its
/// <c>-trace_rtt</c> file since the last read.
/// </summary>
public sealed class SoakTraffic : IAsyncDisposable
{
    // Response times above this many milliseconds share the last bucket (they are failures in all but name).
    private const int HistogramMilliseconds = 10_000;

    private readonly SippRun _run;
    private readonly SippRun? _answerer;
    private readonly long[] _histogram = new long[HistogramMilliseconds + 1];
    private readonly StringBuilder _partialLine = new();
    private long _rttOffset;
    private string? _rttFile;
    private (long Successful, long Failed, long Retransmissions) _last;
    private (long Successful, long Failed, long Retransmissions) _lastAnswerer;

    public SoakTraffic(string name, SippRun run, SippRun? answerer = null)
    {
        Name = name;
        _run = run;
        _answerer = answerer;
    }

    /// <summary>Short name for columns: REGISTER, OPTIONS, echo, bridged.</summary>
    public string Name { get; }

    /// <summary>Counts and response times since the previous call.</summary>
    public StreamInterval Sample()
    {
        var current = Counters(_run.CurrentStatistics());
        var answerer = _answerer == null ? default : Counters(_answerer.CurrentStatistics());
        // Before SIPp's first row (or if a row could not be read) the counters stay where they were.
        current = Max(current, _last);
        answerer = Max(answerer, _lastAnswerer);
        var interval = new StreamInterval(
            current.Successful - _last.Successful,
            current.Failed - _last.Failed + (answerer.Failed - _lastAnswerer.Failed),
            current.Retransmissions - _last.Retransmissions + (answerer.Retransmissions - _lastAnswerer.Retransmissions),
            ReadLatencies());
        _last = current;
        _lastAnswerer = answerer;
        return interval;
    }

    /// <summary>Waits for SIPp to finish its calls (both processes), then returns the totals.</summary>
    public async Task<StreamTotal> FinishAsync(TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        SippResult result;
        SippResult? answered = null;
        try
        {
            result = await _run.Completion.WaitAsync(limit.Token).ConfigureAwait(false);
            if (_answerer != null)
                answered = await _answerer.Completion.WaitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Past its time: stopped, and whatever it did not finish counts as lost.
            result = await _run.StopAsync().ConfigureAwait(false);
            if (_answerer != null)
                answered = await _answerer.StopAsync().ConfigureAwait(false);
        }
        var problem = new StringBuilder();
        Describe(problem, result, _run.Directory, "");
        if (answered != null)
            Describe(problem, answered, _answerer!.Directory, "answering phone: ");
        return new StreamTotal(Name, result.Expected, result.Successful, result.Failed + (answered?.Failed ?? 0), result.Unfinished,
            result.Retransmissions + (answered?.Retransmissions ?? 0), problem.ToString().Trim());
    }

    /// <summary>Stops SIPp now (calls in progress end unfinished); <see cref="FinishAsync"/> then returns at once.</summary>
    public async Task StopAsync()
    {
        await _run.StopAsync().ConfigureAwait(false);
        if (_answerer != null)
            await _answerer.StopAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _run.DisposeAsync().ConfigureAwait(false);
        if (_answerer != null)
            await _answerer.DisposeAsync().ConfigureAwait(false);
    }

    private static (long Successful, long Failed, long Retransmissions) Counters(SippStatistics? statistics) =>
        statistics == null ? default : (statistics.Successful, statistics.Failed, statistics.Retransmissions);

    private static (long, long, long) Max((long S, long F, long R) a, (long S, long F, long R) b) =>
        (Math.Max(a.S, b.S), Math.Max(a.F, b.F), Math.Max(a.R, b.R));

    private static void Describe(StringBuilder text, SippResult result, string directory, string prefix)
    {
        var errors = ReadErrors(directory);
        // SIPp notes when its own scheduler ran late: then the response times include its delay, not only the server's.
        var lateClient = Occurrences(errors, "watchdog timer");
        if (result.Lost == 0 && result.ExitCode == 0)
        {
            if (lateClient > 0)
                text.Append(CultureInfo.InvariantCulture, $"{prefix}SIPp itself ran late {lateClient} times (its watchdog): a share of the delays was the client's\n");
            return;
        }
        text.Append(prefix).Append(result).Append('\n');
        if (result.Statistics is { } s)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"  timeouts {s.FailedTimeoutOnReceive}, unexpected messages {s.FailedUnexpectedMessage}, unanswered after retransmissions {s.FailedMaxUdpRetransmissions}, out-of-call {s.OutOfCallMessages}, dead-call {s.DeadCallMessages}, SIPp late {lateClient} times\n");
        }
        var first = errors.IndexOf("Aborting call", StringComparison.Ordinal);
        if (first >= 0)
            text.Append("  first failed call: ").Append(FirstLines(errors[first..Math.Min(errors.Length, first + 1500)], 12)).Append('\n');
        if (result.Output.Length > 0)
            text.Append("  sipp output: ").Append(FirstLines(result.Output, 4)).Append('\n');
    }

    private static int Occurrences(string text, string what)
    {
        var count = 0;
        for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    // SIPp's -trace_err file (SippOptions.TraceErrors); its first megabyte is plenty to count and quote from.
    private static string ReadErrors(string directory)
    {
        try
        {
            var path = Path.Combine(directory, "errors.log");
            if (!File.Exists(path))
                return "";
            using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
            var buffer = new char[1024 * 1024];
            return new string(buffer, 0, reader.ReadBlock(buffer, 0, buffer.Length));
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static string FirstLines(string text, int lines) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Take(lines));

    /// <summary>
    /// Response times SIPp appended since the last read: lines <c>date_ms;response_time_ms;rtd_no</c>, flushed every
    /// few calls (-rtt_freq), so a read may end mid-line; that piece waits for the next read.
    /// </summary>
    private Percentiles ReadLatencies()
    {
        Array.Clear(_histogram);
        _rttFile ??= FindRttFile();
        if (_rttFile == null)
            return default;
        try
        {
            using var stream = new FileStream(_rttFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length < _rttOffset)
                _rttOffset = 0;
            stream.Seek(_rttOffset, SeekOrigin.Begin);
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
            {
                _rttOffset += read;
                for (var i = 0; i < read; i++)
                {
                    var c = (char)buffer[i];
                    if (c == '\n')
                    {
                        AddLine(_partialLine);
                        _partialLine.Clear();
                    }
                    else if (c != '\r')
                    {
                        _partialLine.Append(c);
                    }
                }
            }
        }
        catch (IOException)
        {
            // Read again next time from the same offset.
        }
        return Summarize(_histogram);
    }

    private string? FindRttFile()
    {
        try
        {
            return Directory.GetFiles(_run.Directory, "*_rtt.csv").FirstOrDefault();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void AddLine(StringBuilder line)
    {
        // "104.001;4;1": the second field is the response time in milliseconds; the header line does not parse.
        var text = line.ToString();
        var first = text.IndexOf(';', StringComparison.Ordinal);
        if (first < 0)
            return;
        var second = text.IndexOf(';', first + 1);
        var field = second < 0 ? text.AsSpan(first + 1) : text.AsSpan(first + 1, second - first - 1);
        if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var milliseconds) || milliseconds < 0)
            return;
        _histogram[(int)Math.Min(HistogramMilliseconds, Math.Round(milliseconds))]++;
    }

    internal static Percentiles Summarize(long[] histogram)
    {
        var count = histogram.Sum();
        if (count == 0)
            return default;
        int At(double share)
        {
            var rank = (long)Math.Ceiling(share * count);
            long seen = 0;
            for (var i = 0; i < histogram.Length; i++)
            {
                seen += histogram[i];
                if (seen >= rank)
                    return i;
            }
            return histogram.Length - 1;
        }
        var max = Array.FindLastIndex(histogram, c => c > 0);
        return new Percentiles(count, At(0.50), At(0.95), At(0.99), max);
    }
}
