using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using PjSharp.Diagnostics;
using PjSharp.Server.Tests.Bridging;
using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Sessions;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Observability;

/// <summary>Outgoing INVITEs carry a W3C traceparent for the trace they belong to; SIPp is the callee and checks the header.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed partial class TraceParentTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);
    private static readonly ActivitySource s_application = new("PjSharp.Tests.Application");

    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [GeneratedRegex("trace-id ([0-9a-f]{32}) parent-id ([0-9a-f]{16})")]
    private static partial Regex LoggedTraceParent();

    /// <summary>SIPp as a callee that fails its call unless the INVITE has a traceparent, logging what it got.</summary>
    private static Task<SippCallee> StartCalleeAsync(string target, string scenario = "call-uas-traceparent.xml") =>
        SippCallee.StartAsync(scenario, target, TimeSpan.FromSeconds(30), extraArguments: ["-trace_logs"]);

    /// <summary>Each traceparent SIPp logged (trace id, parent id), in the order the requests came.</summary>
    private static List<(string TraceId, string ParentId)> TraceParentsSippReceived(SippRun run)
    {
        var logs = Directory.GetFiles(run.Directory, "*_logs.log");
        Assert.That(logs, Is.Not.Empty, "SIPp wrote no log file");
        var logged = File.ReadAllText(logs[0]);
        var carried = LoggedTraceParent().Matches(logged).Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();
        Assert.That(carried, Is.Not.Empty, "SIPp logged no traceparent:\n" + logged);
        return carried;
    }

    private static (string TraceId, string ParentId) TraceParentSippReceived(SippRun run) => TraceParentsSippReceived(run)[0];

    [Test]
    public async Task Outgoing_invite_carries_a_traceparent_of_the_current_activity_with_the_session_span_as_parent()
    {
        var started = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is PjSharpActivities.SourceName or "PjSharp.Tests.Application",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = started.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = SessionTestHost.Start();
        await using var callee = await StartCalleeAsync(host.Target);
        var (run, port) = (callee.Run, callee.Port);

        string traceId;
        using (var dial = s_application.StartActivity("dial"))
        {
            Assert.That(dial, Is.Not.Null);
            traceId = dial!.TraceId.ToHexString();
            var session = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:bob@127.0.0.1:{port}" });
            Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(486));
        }
        var result = await run.Completion.WaitAsync(Limit);
        Assert.That(result.Successful, Is.EqualTo(1), "SIPp requires a traceparent on the INVITE\n" + result.Describe());

        var (receivedTraceId, parentId) = TraceParentSippReceived(run);
        var span = started.Single(a => a.Source.Name == PjSharpActivities.SourceName && a.DisplayName == "INVITE");
        Assert.Multiple(() =>
        {
            Assert.That(receivedTraceId, Is.EqualTo(traceId), "the INVITE continues the caller's trace");
            Assert.That(span.TraceId.ToHexString(), Is.EqualTo(traceId), "the session span is in the caller's trace");
            Assert.That(span.Kind, Is.EqualTo(ActivityKind.Client));
            Assert.That(parentId, Is.EqualTo(span.SpanId.ToHexString()), "the callee's parent is the session span");
        });
    }

    [Test]
    public async Task Outgoing_invite_carries_an_explicit_trace_parent_even_when_nobody_listens_to_pjsharp()
    {
        await using var host = SessionTestHost.Start();
        await using var callee = await StartCalleeAsync(host.Target);
        var (run, port) = (callee.Run, callee.Port);
        var parent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);

        var session = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:bob@127.0.0.1:{port}", TraceParent = parent });
        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(486));
        var result = await run.Completion.WaitAsync(Limit);
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());

        var (traceId, parentId) = TraceParentSippReceived(run);
        Assert.That((traceId, parentId), Is.EqualTo((parent.TraceId.ToHexString(), parent.SpanId.ToHexString())));
    }

    [Test]
    public async Task Requests_within_the_call_carry_its_trace_as_its_invite_did()
    {
        await using var host = SessionTestHost.Start();
        await using var callee = await StartCalleeAsync(host.Target, "call-uas-traceparent-dialog.xml");
        var (run, port) = (callee.Run, callee.Port);
        var parent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);

        var session = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:bob@127.0.0.1:{port}", TraceParent = parent });
        Assert.That(await session.Answered.WaitAsync(Limit), Is.EqualTo(200));
        Assert.That(await session.HoldAsync().WaitAsync(Limit), Is.EqualTo(200), "re-INVITE");
        Assert.That(await session.SendRequestAsync("INFO", "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n").WaitAsync(Limit), Is.EqualTo(200), "INFO");
        await session.HangupAsync().WaitAsync(Limit);
        var result = await run.Completion.WaitAsync(Limit);
        Assert.That(result.Successful, Is.EqualTo(1), "SIPp requires a traceparent on the INVITE, re-INVITE, INFO and BYE\n" + result.Describe());

        var carried = TraceParentsSippReceived(run);
        Assert.That(carried, Has.Count.EqualTo(4).And.All.EqualTo((parent.TraceId.ToHexString(), parent.SpanId.ToHexString())),
            "each request names the call's trace and parent");
    }

    [Test]
    public async Task The_bridges_outgoing_leg_carries_the_callers_trace_on_to_the_called_phone()
    {
        await using var server = await RegistrarTestServer.StartAsync(RegistrarTestServer.Phones());
        await using var bob = await SippPhone.RegisterAsync(server.Udp, "bob");
        var callee = await bob.AnswerAsync("call-uas-traceparent.xml", server.Udp, "-trace_logs");
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var spanId = ActivitySpanId.CreateRandom().ToHexString();
        using var caller = SippScenario.Load("bridge-caller-rejected-uac.xml")
            .Replace("\"STATUS\"", "\"486\"")
            .Replace("User-Agent: PjSharp tests (SIPp)", $"traceparent: 00-{traceId}-{spanId}-01\n      User-Agent: PjSharp tests (SIPp)");

        var result = await SippRunner.RunAsync(new SippOptions
        {
            Scenario = caller.Path,
            Target = $"127.0.0.1:{server.Udp.Port}",
            Service = "bob",
            Timeout = TimeSpan.FromSeconds(30),
            TraceErrors = true,
            ExtraArguments = ["-au", "alice", "-ap", "secret-alice", "-key", "caller", "alice", "-key", "rtp_port", "4000"],
        });
        Assert.That(result.Successful, Is.EqualTo(1), "alice hears bob's 486: " + result.Describe() + "\n" + server.Output);
        var answered = await callee.Completion.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.That(answered.Successful, Is.EqualTo(1), "bob's INVITE had a traceparent: " + answered.Describe());

        var (received, _) = TraceParentSippReceived(callee);
        Assert.That(received, Is.EqualTo(traceId), "the called phone's INVITE is in the caller's trace");
    }
}
