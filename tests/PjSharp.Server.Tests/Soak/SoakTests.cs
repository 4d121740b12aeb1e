using System.Text;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Soak;

namespace PjSharp.Server.Tests.Soak;

/// <summary>
/// The soak benchmark in CI: the same mixed traffic (digest REGISTER refreshes, OPTIONS, echo calls, calls bridged to a
/// registered phone) against a server hosted in this process, for two minutes at a few percent of the benchmark's
/// rates. Every call must succeed and every row must carry figures that make sense; the slopes need the long run
/// (<c>./build.sh --target=Bench --bench="soak --minutes 60"</c>).
/// </summary>
[NonParallelizable]
public sealed class SoakTests
{
    private const long MiB = 1024 * 1024;

    [Test]
    [CancelAfter(170_000)]
    public async Task Two_minutes_of_mixed_traffic_lose_no_call_and_print_a_row_a_minute(CancellationToken cancellationToken)
    {
        SipTestServer.RequireSipp();
        var settings = new SoakSettings
        {
            Duration = TimeSpan.FromMinutes(2),
            Interval = TimeSpan.FromMinutes(1),
            WarmupRows = 0,
            Users = 500,
            RegisterRate = 40,
            OptionsRate = 40,
            EchoRate = 20,
            BridgeRate = 10,
        };
        var printed = new StringWriter();

        var report = await SoakRunner.RunAsync(settings, new Tee(printed, TestContext.Progress), cancellationToken: cancellationToken);

        var output = printed.ToString();
        Assert.Multiple(() =>
        {
            Assert.That(report.StreamNames, Is.EqualTo(new[] { "REGISTER", "OPTIONS", "echo", "bridged" }));
            Assert.That(report.Rows, Has.Count.EqualTo(2), output);
            foreach (var total in report.Totals)
            {
                Assert.That(total.Lost, Is.Zero, $"{total.Name}: {total.Problem}");
                Assert.That(total.Successful, Is.EqualTo(total.Expected), $"{total.Name}: {total.Problem}");
            }
            Assert.That(report.ZeroFailures, Is.True, output);
            Assert.That(report.Errors, Is.Zero, string.Join("\n", report.LoggedProblems));
            foreach (var row in report.Rows)
            {
                Assert.That(output, Does.Contain(SoakReport.FormatRow(row)), "each row is printed");
                for (var i = 0; i < report.StreamNames.Count; i++)
                {
                    var stream = row.Streams[i];
                    var name = $"minute {row.Index}, {report.StreamNames[i]}";
                    // Within a tenth of the offered rate: a stream that stalled would complete far fewer.
                    Assert.That(stream.Rate(row.Length), Is.GreaterThan(0.9 * Rate(settings, i)), name);
                    Assert.That(stream.Latency.Count, Is.GreaterThan(0), $"{name}: response times read");
                    Assert.That(stream.Latency.P99, Is.LessThan(500), $"{name}: p99 ms (SIPp retransmits at 500)");
                }
                Assert.That(row.Process.ResidentBytes, Is.InRange(64 * MiB, 4096 * MiB), "RSS");
                Assert.That(row.Process.ManagedHeapBytes, Is.InRange(1 * MiB, 1024 * MiB), "live managed heap");
                Assert.That(row.Process.MallocInUseBytes, Is.InRange(1 * MiB, 4096 * MiB), "malloc's bytes in use (glibc)");
                Assert.That(row.Pool.PoolsInUse, Is.InRange(10, 100_000), "pjsip pools in use: transactions lingering, calls held");
                Assert.That(row.Pool.CapacityBytes, Is.InRange(1 * MiB, 2048 * MiB), "pjsip pool memory");
                Assert.That(row.Pool.UsedBytes, Is.InRange(1, row.Pool.CapacityBytes));
                Assert.That(row.Pool.Transactions, Is.InRange(10, 100_000), "pjsip transactions");
                Assert.That(row.Process.OpenFiles, Is.InRange(10, 20_000), "open descriptors");
                Assert.That(row.Process.Threads, Is.InRange(5, 1000), "threads");
                Assert.That(row.CpuShare, Is.GreaterThan(0), "server CPU");
                Assert.That(row.DatabaseBytes, Is.GreaterThan(0), "SQLite files");
            }
            Assert.That(output, Does.Contain("verdict: PASS"), output);
        });
    }

    private static double Rate(SoakSettings settings, int stream) => stream switch
    {
        0 => settings.RegisterRate,
        1 => settings.OptionsRate,
        2 => settings.EchoRate,
        _ => settings.BridgeRate,
    };

    /// <summary>Writes to two writers: the report's copy and the test's live progress.</summary>
    private sealed class Tee(TextWriter first, TextWriter second) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            first.Write(value);
            second.Write(value);
        }

        public override void Write(string? value)
        {
            first.Write(value);
            second.Write(value);
        }

        public override void WriteLine(string? value)
        {
            first.WriteLine(value);
            second.WriteLine(value);
        }
    }
}
