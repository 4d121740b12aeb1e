using System.Net;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.Interception;
using PjSharp.Interception.Trace;

namespace PjSharp.Tests.Interception.Trace;

/// <summary>Live trace feeds: what each keeps, and that a reader who falls behind loses messages instead of holding up the sender.</summary>
public sealed class SipTraceSubscriptionTests
{
    private static readonly SourceAddress s_local = SourceAddress.FromIPAddress(IPAddress.Loopback);

    private static void Send(SipTrace trace, string message, string remote = "127.0.0.1", string from = "alice", bool received = true) =>
        trace.Trace(received, SourceAddress.FromIPAddress(IPAddress.Parse(remote)), 5070, s_local, 5060, "UDP",
            Encoding.ASCII.GetBytes(message), Encoding.ASCII.GetBytes(from), "bob"u8);

    private static List<SipTraceMessage> Drain(SipTraceSubscription subscription)
    {
        var messages = new List<SipTraceMessage>();
        while (subscription.Messages.TryRead(out var message))
            messages.Add(message);
        return messages;
    }

    private const string Options = "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
    private const string Register = "REGISTER sip:127.0.0.1 SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n";
    private const string OptionsAnswer = "SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n";

    [Test]
    public async Task A_feed_gets_messages_while_the_logging_trace_is_off_with_addresses_and_direction()
    {
        await using var trace = new SipTrace(NullLogger.Instance);
        Assert.That(trace.Enabled, Is.False);
        using var feed = trace.Subscribe();
        Send(trace, Options);
        Send(trace, OptionsAnswer, received: false);

        var messages = Drain(feed);
        Assert.That(messages, Has.Count.EqualTo(2));
        Assert.That((messages[0].Received, messages[0].Transport, messages[0].Local, messages[0].Remote), Is.EqualTo((true, "UDP", "127.0.0.1:5060", "127.0.0.1:5070")));
        Assert.That(messages[0].Text, Does.StartWith("OPTIONS sip:bob@127.0.0.1 SIP/2.0\nCSeq: 1 OPTIONS\n"));
        Assert.That(messages[1].Received, Is.False);
    }

    [Test]
    public async Task Filters_by_method_address_and_endpoint_combine()
    {
        await using var trace = new SipTrace(NullLogger.Instance);
        using var options = trace.Subscribe(new SipTraceFilter { Method = "OPTIONS" });
        using var network = trace.Subscribe(new SipTraceFilter { Addresses = [IPNetwork.Parse("192.0.2.0/24")] });
        using var carol = trace.Subscribe(new SipTraceFilter { Endpoints = ["carol"] });
        Send(trace, Options);
        Send(trace, OptionsAnswer, received: false);
        Send(trace, Register, remote: "192.0.2.7");
        Send(trace, Register, from: "carol");

        Assert.That(Drain(options).Select(m => m.Bytes.Length), Is.EqualTo(new[] { Options.Length, OptionsAnswer.Length }), "the request and its answer");
        Assert.That(Drain(network).Select(m => m.Remote), Is.EqualTo(new[] { "192.0.2.7:5070" }));
        Assert.That(Drain(carol).Select(m => m.Method), Is.EqualTo(new[] { "REGISTER" }));
    }

    [Test]
    public async Task A_full_feed_drops_and_counts_without_waiting_and_others_still_get_everything()
    {
        await using var trace = new SipTrace(NullLogger.Instance);
        using var slow = trace.Subscribe(capacity: 3);
        using var fast = trace.Subscribe(capacity: 100);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
            Send(trace, Options);
        clock.Stop();

        Assert.That(Drain(slow), Has.Count.EqualTo(3));
        Assert.That(slow.Dropped, Is.EqualTo(7));
        Assert.That(Drain(fast), Has.Count.EqualTo(10));
        Assert.That(fast.Dropped, Is.Zero);
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(1)), "the sender never waited for the reader");
    }

    [Test]
    public async Task Disposing_ends_a_feed_and_disposing_the_trace_completes_the_rest()
    {
        var trace = new SipTrace(NullLogger.Instance);
        var leaving = trace.Subscribe();
        var staying = trace.Subscribe();
        Assert.That(trace.SubscriberCount, Is.EqualTo(2));
        leaving.Dispose();
        Assert.That(trace.SubscriberCount, Is.EqualTo(1));
        Send(trace, Options);
        Assert.That(Drain(leaving), Is.Empty);

        await trace.DisposeAsync();
        Assert.That(await staying.Messages.ReadAsync(), Is.Not.Null, "what was queued is still read");
        Assert.That(async () => await staying.Messages.Completion.WaitAsync(TimeSpan.FromSeconds(5)), Throws.Nothing);
        staying.Dispose();
    }
}
