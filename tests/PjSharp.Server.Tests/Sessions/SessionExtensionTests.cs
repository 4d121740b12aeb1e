using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PjSharp.Sessions;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Session extensions: rejecting requests, failing, adding headers, method filters, order, run-time registration.</summary>
public class SessionExtensionTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    public async Task An_extension_rejects_invites_from_a_blocked_caller_with_403()
    {
        var answered = 0;
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("echo", (session, ended) =>
            {
                Interlocked.Increment(ref answered);
                return SessionApplications.Echo(session, ended);
            });
            s.AddExtension(new Hooks("blocklist", methods: ["INVITE"])
            {
                Incoming = (session, request) =>
                {
                    if (request.IsInDialog || !request.FromUser.SequenceEqual("mallory"u8))
                        return true;
                    session.Reject(request, 403);
                    return false;
                },
            });
        });
        using var blocked = SippScenario.Load("call-rejected-uac.xml").Replace("\"STATUS\"", "\"403\"").Replace("sip:sipp@", "sip:mallory@");
        var result = await host.RunSippAsync(blocked.Path, "echo");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        var allowed = await host.RunSippAsync("call-uac.xml", "echo", extra: ["-d", "100"]);
        Assert.That(allowed.Successful, Is.EqualTo(1), allowed.Describe());
        await host.WaitForNoSessionsAsync();
        Assert.That(answered, Is.EqualTo(1), "the rejected call never reaches the application");
        Assert.That(host.Logs.Entries.Where(e => e.Level >= LogLevel.Error), Is.Empty);
    }

    [Test]
    public async Task An_extension_rejects_in_dialog_info_and_reinvite_and_the_call_stays_up_until_bye()
    {
        var seen = new ConcurrentQueue<string>();
        var ends = new ConcurrentQueue<SessionEnd>();
        var digits = 0;
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("echo", async (session, ended) =>
            {
                await SessionApplications.Echo(session, ended);
                ends.Enqueue(await session.Completion);
                while (session.Dtmf.TryRead(out _))
                    Interlocked.Increment(ref digits);
            });
            s.AddExtension(new Hooks("no-changes", methods: ["INFO", "INVITE"])
            {
                Incoming = (session, request) =>
                {
                    if (!request.IsInDialog)
                        return true;
                    seen.Enqueue(request.MethodText);
                    session.Reject(request, request.Method == SipMethod.Invite ? 488 : 403);
                    return false;
                },
            });
        });
        using var scenario = SippScenario.Load("call-indialog-rejected-uac.xml").Replace("INFO_STATUS", "403").Replace("REINVITE_STATUS", "488");
        var result = await host.RunSippAsync(scenario.Path, "echo");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
        await WaitUntilAsync(() => !ends.IsEmpty);
        Assert.That(seen, Is.EqualTo(new[] { "INFO", "INVITE" }));
        Assert.That(ends.Single().WasConnected, "the call ended as an answered call, by the BYE");
        Assert.That(digits, Is.Zero, "the rejected INFO's digit never reached the session");
        Assert.That(host.Logs.Entries.Where(e => e.Level >= LogLevel.Error), Is.Empty, "answered once, by the extension");
    }

    [Test]
    public async Task An_extension_that_returns_false_without_answering_an_invite_gets_500()
    {
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("echo", SessionApplications.Echo);
            s.AddExtension(new Hooks("silent", methods: ["INVITE"]) { Incoming = (_, _) => false });
        });
        using var rejected = SessionTestHost.RejectedScenario(500);
        var result = await host.RunSippAsync(rejected.Path, "echo");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task An_extension_that_returns_false_without_answering_in_dialog_requests_gets_500_and_the_call_stays_up()
    {
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("echo", SessionApplications.Echo);
            s.AddExtension(new Hooks("silent", methods: ["INFO", "INVITE"]) { Incoming = (_, request) => !request.IsInDialog });
        });
        using var scenario = SippScenario.Load("call-indialog-rejected-uac.xml").Replace("INFO_STATUS", "500").Replace("REINVITE_STATUS", "500");
        var result = await host.RunSippAsync(scenario.Path, "echo");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
        Assert.That(host.Logs.Entries.Where(e => e.Level >= LogLevel.Error), Is.Empty, "the 500s come from the session core, once");
    }

    [Test]
    public async Task An_extension_that_throws_gets_500_and_a_log_line()
    {
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("echo", SessionApplications.Echo).MapInvite("boom", SessionApplications.Echo);
            s.AddExtension(new Hooks("faulty", methods: ["INVITE"])
            {
                Incoming = (session, _) => session.Target == "boom" ? throw new InvalidOperationException("extension bug") : true,
            });
        });
        using var rejected = SessionTestHost.RejectedScenario(500);
        var failed = await host.RunSippAsync(rejected.Path, "boom");
        Assert.That(failed.Successful, Is.EqualTo(1), failed.Describe());
        Assert.That(host.Logs.Entries.Any(e => e.Id.Id == 7002 && e.Exception?.Message == "extension bug" && e.Message.Contains("faulty", StringComparison.Ordinal)),
            "the failure is logged with the extension's name");
        var next = await host.RunSippAsync("call-uac.xml", "echo", extra: ["-d", "100"]);
        Assert.That(next.Successful, Is.EqualTo(1), next.Describe());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task An_extension_adds_a_header_to_the_200_and_to_the_bye_pjsharp_sends()
    {
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("answer-and-hang-up", AnswerAndHangUp);
            s.AddExtension(Tenant("acme"));
        });
        using var scenario = SippScenario.Load("call-server-bye-checked-uac.xml");
        scenario.Checks("CHECKS_200", scenario.Header("X-Tenant", "^ *acme$")).Checks("CHECKS_BYE", scenario.Header("X-Tenant", "^ *acme$"));
        var result = await host.RunSippAsync(scenario.Path, "answer-and-hang-up");
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task An_outgoing_call_carries_the_extensions_header_and_the_incoming_response_hook_sees_its_200()
    {
        var responses = new ConcurrentQueue<(int Status, string Method)>();
        var tenant = Tenant("acme");
        tenant.IncomingResponse = (_, response) => responses.Enqueue((response.StatusCode, response.CSeqMethod));
        await using var host = SessionTestHost.Start(s => s.AddExtension(tenant));
        using var scenario = SippScenario.Load("call-uas.xml");
        scenario.Checks("CHECKS_INVITE", scenario.Header("X-Tenant", "^ *acme$")).Checks("CHECKS_BYE", scenario.Header("X-Tenant", "^ *acme$"));
        var (uas, port) = StartUas(scenario);
        await using (uas)
        {
            var session = await host.Sessions.CallAsync(new CallOptions { Target = $"sip:uas@127.0.0.1:{port}", Timeout = TimeSpan.FromSeconds(10) });
            Assert.That(await session.Answered.WaitAsync(TimeSpan.FromSeconds(15)), Is.EqualTo(200));
            await session.HangupAsync();
            await session.Completion.WaitAsync(TimeSpan.FromSeconds(10));
            var result = await uas.Completion.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        }
        await WaitUntilAsync(() => responses.Contains((200, "BYE")));
        Assert.That(responses, Does.Contain((200, "INVITE")), "the 200 of the INVITE went through the incoming-response hook");
        Assert.That(responses, Does.Contain((200, "BYE")));
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    public async Task An_extension_registered_for_bye_only_is_not_called_for_invite()
    {
        var calls = new ConcurrentQueue<string>();
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("echo", SessionApplications.Echo);
            s.AddExtension(new Hooks("bye-only", methods: ["BYE"])
            {
                Incoming = (_, request) =>
                {
                    calls.Enqueue("in " + request.MethodText);
                    return true;
                },
                OutgoingRequest = (_, request) => calls.Enqueue("out " + request.Method),
                OutgoingResponse = (_, response) => calls.Enqueue($"out {response.StatusCode} {response.Method}"),
            });
        });
        var result = await host.RunSippAsync("call-uac.xml", "echo", extra: ["-d", "100"]);
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
        Assert.That(calls, Is.EqualTo(new[] { "in BYE", "out 200 BYE" }));
    }

    [Test]
    public async Task Extensions_run_in_priority_order_then_in_registration_order()
    {
        var order = new ConcurrentQueue<string>();
        Hooks Recorder(string name, int priority) => new(name, priority, ["INVITE"])
        {
            Incoming = (_, request) =>
            {
                if (!request.IsInDialog)
                    order.Enqueue(name);
                return true;
            },
        };
        await using var host = SessionTestHost.Start(s =>
        {
            s.Router.MapInvite("echo", SessionApplications.Echo);
            s.AddExtension(Recorder("zero", 0));
            s.AddExtension(Recorder("late-a", 10));
            s.AddExtension(Recorder("early", -5));
            s.AddExtension(Recorder("late-b", 10));
        });
        string[] expected = ["early", "zero", "late-a", "late-b"];
        Assert.That(host.Sessions.Extensions.Select(e => e.Name).Where(expected.Contains), Is.EqualTo(expected));
        var result = await host.RunSippAsync("call-uac.xml", "echo", extra: ["-d", "100"]);
        Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        await host.WaitForNoSessionsAsync();
        Assert.That(order, Is.EqualTo(expected));
    }

    [Test]
    public async Task An_extension_added_at_run_time_adds_its_header_until_it_is_removed()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("answer-and-hang-up", AnswerAndHangUp));
        var tenant = Tenant("acme");
        host.Sessions.AddExtension(tenant);
        Assert.Throws<InvalidOperationException>(() => host.Sessions.AddExtension(tenant), "registered once");

        using (var present = SippScenario.Load("call-server-bye-checked-uac.xml"))
        {
            present.Checks("CHECKS_200", present.Header("X-Tenant", "^ *acme$")).Checks("CHECKS_BYE", present.Header("X-Tenant", "^ *acme$"));
            var result = await host.RunSippAsync(present.Path, "answer-and-hang-up");
            Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        }
        await host.WaitForNoSessionsAsync();

        Assert.That(host.Sessions.RemoveExtension(tenant), Is.True);
        Assert.That(host.Sessions.RemoveExtension(tenant), Is.False);
        using (var absent = SippScenario.Load("call-server-bye-checked-uac.xml"))
        {
            absent.Checks("CHECKS_200", absent.NoHeader("X-Tenant")).Checks("CHECKS_BYE", absent.NoHeader("X-Tenant"));
            var result = await host.RunSippAsync(absent.Path, "answer-and-hang-up");
            Assert.That(result.Successful, Is.EqualTo(1), result.Describe());
        }
        await host.WaitForNoSessionsAsync();
    }

    /// <summary>Answers, waits a moment and sends BYE.</summary>
    internal static async Task AnswerAndHangUp(SipSession session, CancellationToken ended)
    {
        await session.AnswerAsync();
        await Task.Delay(200, ended);
        await session.HangupAsync();
        await session.Completion;
    }

    /// <summary>Adds <c>X-Tenant</c> to every request and final response the session sends.</summary>
    internal static Hooks Tenant(string tenant) => new("tenant")
    {
        OutgoingRequest = (_, request) => request.AddHeader("X-Tenant", tenant),
        OutgoingResponse = (_, response) =>
        {
            if (response.StatusCode >= 200)
                response.AddHeader("X-Tenant", tenant);
        },
    };

    /// <summary>SIPp answering on a free loopback port with <paramref name="scenario"/>, for one call.</summary>
    internal static (SippRun Run, int Port) StartUas(SippScenario scenario)
    {
        int port;
        using (var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
            port = ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
        var run = SippRunner.Start(new SippOptions
        {
            Scenario = scenario.Path,
            Target = "127.0.0.1:5060",
            LocalPort = port,
            MaxCalls = 1,
            Timeout = TimeSpan.FromSeconds(30),
            TraceErrors = true,
        });
        return (run, port);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(5));
        while (!condition() && DateTime.UtcNow < deadline)
            await Task.Delay(20);
    }
}

/// <summary>An extension made of delegates, for tests.</summary>
internal sealed class Hooks(string name, int priority = 0, params string[] methods) : SessionExtension(name, priority, methods)
{
    public IncomingRequestHook? Incoming { get; set; }

    public IncomingResponseHook? IncomingResponse { get; set; }

    public OutgoingHook? OutgoingRequest { get; set; }

    public OutgoingHook? OutgoingResponse { get; set; }

    public override bool OnIncomingRequest(SipSession session, SipRequest request) => Incoming?.Invoke(session, request) ?? true;

    public override void OnIncomingResponse(SipSession session, SipResponse response) => IncomingResponse?.Invoke(session, response);

    public override void OnOutgoingRequest(SipSession session, SipOutgoingMessage request) => OutgoingRequest?.Invoke(session, request);

    public override void OnOutgoingResponse(SipSession session, SipOutgoingMessage response) => OutgoingResponse?.Invoke(session, response);
}

internal delegate bool IncomingRequestHook(SipSession session, SipRequest request);

internal delegate void IncomingResponseHook(SipSession session, SipResponse response);

internal delegate void OutgoingHook(SipSession session, SipOutgoingMessage message);
