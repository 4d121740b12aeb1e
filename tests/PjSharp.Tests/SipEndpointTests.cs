using System.Collections.Concurrent;
using PjSharp.Services;
using PjSharp.Tests.Support;

namespace PjSharp.Tests;

public class SipEndpointTests
{
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(3);

    [Test]
    public void Answers_OPTIONS_over_udp_with_200_and_capabilities()
    {
        using var server = new TestEndpoint();
        using var client = new RawSipClient(server.Udp);

        var status = client.Exchange(RawSipClient.Options(client.Local), Answer, out var response);

        Assert.That(status, Is.EqualTo(200), response);
        Assert.That(AllowOf(response), Is.EqualTo(new[] { "OPTIONS" }), response);
    }

    [Test]
    public void Allow_follows_the_methods_of_registered_services()
    {
        using var server = new TestEndpoint();
        using var client = new RawSipClient(server.Udp);
        var messages = new DelegateService("messages", SipServicePriority.Application - 1, _ => false, ["MESSAGE", "options"]);

        server.Endpoint.RegisterService(messages);
        Assert.That(client.Exchange(RawSipClient.Options(client.Local), Answer, out var withService), Is.EqualTo(200));
        server.Endpoint.UnregisterService(messages);
        Assert.That(client.Exchange(RawSipClient.Options(client.Local), Answer, out var without), Is.EqualTo(200));

        Assert.That(AllowOf(withService), Is.EquivalentTo(new[] { "OPTIONS", "MESSAGE" }), withService);
        Assert.That(AllowOf(without), Is.EqualTo(new[] { "OPTIONS" }), without);
        Assert.That(server.Endpoint.AllowedMethods, Is.EqualTo(new[] { "OPTIONS" }));
    }

    private static string[] AllowOf(string? response)
    {
        var line = response?.Split("\r\n").FirstOrDefault(l => l.StartsWith("Allow:", StringComparison.OrdinalIgnoreCase));
        return line == null ? [] : line["Allow:".Length..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    }

    [Test]
    public void Answers_OPTIONS_over_tcp()
    {
        using var server = new TestEndpoint(tcp: true);
        using var client = new RawSipClient(server.Tcp, tcp: true);

        Assert.That(client.Exchange(RawSipClient.Options(client.Local, "TCP"), Answer, out var response), Is.EqualTo(200), response);
    }

    [Test]
    public void Answers_OPTIONS_over_udp_on_ipv6_loopback()
    {
        using var server = new TestEndpoint(udp6: true);
        using var client = new RawSipClient(server.Udp6);

        Assert.That(client.Exchange(RawSipClient.Options(client.Local), Answer, out var response), Is.EqualTo(200), response);
    }

    [Test]
    public void Only_one_endpoint_may_exist_per_process()
    {
        using var server = new TestEndpoint();

        var error = Assert.Throws<InvalidOperationException>(() => SipEndpoint.Create(new SipEndpointOptions()));
        Assert.That(error!.Message, Does.Contain("one endpoint per process"));
    }

    [Test]
    public void A_throwing_service_yields_500_and_a_log_line_and_the_endpoint_keeps_serving()
    {
        using var server = new TestEndpoint();
        var thrower = new DelegateService("thrower", SipServicePriority.Application - 1, request =>
            request.GetHeader("X-Throw") != null ? throw new InvalidOperationException("boom") : false);
        server.Endpoint.RegisterService(thrower);
        using var client = new RawSipClient(server.Udp);

        var failed = client.Exchange(RawSipClient.Options(client.Local, extraHeaders: "X-Throw: yes\r\n"), Answer, out var response);
        var next = client.Exchange(RawSipClient.Options(client.Local), Answer, out _);

        Assert.That(failed, Is.EqualTo(500), response);
        Assert.That(next, Is.EqualTo(200));
        Assert.That(server.Logs.Entries.Any(e => e.Id.Id == 1001 && e.Exception?.Message == "boom"), Is.True);
    }

    [Test]
    public void Services_run_in_priority_order_and_the_first_to_handle_wins()
    {
        using var server = new TestEndpoint();
        var seen = new ConcurrentQueue<string>();
        server.Endpoint.RegisterService(new DelegateService("late", SipServicePriority.Application - 1, r => { seen.Enqueue("late"); return false; }));
        server.Endpoint.RegisterService(new DelegateService("early", SipServicePriority.Application - 10, r =>
        {
            seen.Enqueue("early");
            if (r.GetHeader("X-Early") == null)
                return false;
            r.RespondStateless(486, "Busy Here");
            return true;
        }));
        using var client = new RawSipClient(server.Udp);

        Assert.That(client.Exchange(RawSipClient.Options(client.Local), Answer, out _), Is.EqualTo(200));
        Assert.That(seen, Is.EqualTo(new[] { "early", "late" }));
        Assert.That(client.Exchange(RawSipClient.Options(client.Local, extraHeaders: "X-Early: 1\r\n"), Answer, out _), Is.EqualTo(486));
    }

    [Test]
    public void Callbacks_arrive_on_worker_threads_and_cloned_requests_are_answered_from_other_threads()
    {
        using var server = new TestEndpoint(workers: 4);
        var threads = new ConcurrentDictionary<string, bool>();
        var clones = new BlockingCollection<SipRequestClone>();
        server.Endpoint.RegisterService(new DelegateService("cloner", SipServicePriority.Application - 1, request =>
        {
            threads[Thread.CurrentThread.Name ?? "?"] = true;
            if (request.GetHeader("X-Clone") == null)
                return false;
            clones.Add(request.Clone());
            request.RespondStateless(202, "Accepted");
            return true;
        }));
        const int count = 200;
        var clients = Enumerable.Range(0, 8).Select(_ => new RawSipClient(server.Udp)).ToArray();
        try
        {
            var answered = 0;
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            {
                var client = clients[i % clients.Length];
                lock (client)
                {
                    if (client.Exchange(RawSipClient.Options(client.Local, extraHeaders: "X-Clone: 1\r\n", callId: $"clone-{i}"), Answer, out _) == 202)
                        Interlocked.Increment(ref answered);
                }
            });
            // Read every clone from thread-pool threads, which register themselves with pjlib.
            var callIds = new ConcurrentBag<string>();
            Parallel.ForEach(clones.GetConsumingEnumerable().Take(count), clone =>
            {
                using (clone)
                    callIds.Add(clone.Read(r => r.CallId));
            });

            Assert.That(answered, Is.EqualTo(count));
            Assert.That(callIds.Distinct().Count(), Is.EqualTo(count));
            // Four workers share one UDP socket: callbacks come from several of them, and only from them.
            Assert.That(threads.Keys, Has.All.StartsWith("pjsip-worker-"));
            Assert.That(threads.Count, Is.GreaterThanOrEqualTo(2), string.Join(", ", threads.Keys));
        }
        finally
        {
            foreach (var client in clients)
                client.Dispose();
        }
    }

    [Test]
    public void Answering_OPTIONS_allocates_nothing_per_request_on_the_workers()
    {
        using var server = new TestEndpoint();
        using var client = new RawSipClient(server.Udp);
        // Warm-up: first calls JIT-compile and fill caches (the Allow snapshot, say).
        for (var i = 0; i < 200; i++)
            Assert.That(client.Exchange(RawSipClient.Options(client.Local), Answer, out _), Is.EqualTo(200));
        const int requests = 2000;

        var before = server.Endpoint.WorkerAllocatedBytes;
        for (var i = 0; i < requests; i++)
            Assert.That(client.Exchange(RawSipClient.Options(client.Local), Answer, out _), Is.EqualTo(200));
        var after = server.Endpoint.WorkerAllocatedBytes;

        // Any object allocated per request costs at least 24 bytes; allow for a rare one-off.
        var perRequest = (double)(after - before) / requests;
        Assert.That(perRequest, Is.LessThan(1.0), $"{after - before} bytes over {requests} requests");
    }

    [Test]
    public void Disposing_with_traffic_in_flight_finishes_promptly()
    {
        var server = new TestEndpoint(workers: 2, tcp: true);
        using var udp = new RawSipClient(server.Udp);
        using var stop = new CancellationTokenSource();
        var sender = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
                udp.Send(RawSipClient.Options(udp.Local));
        });
        Thread.Sleep(300);

        var watch = System.Diagnostics.Stopwatch.StartNew();
        server.Dispose();
        watch.Stop();
        stop.Cancel();
        sender.Wait(TimeSpan.FromSeconds(5));

        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        using var again = new TestEndpoint();
        using var client = new RawSipClient(again.Udp);
        Assert.That(client.Exchange(RawSipClient.Options(client.Local), Answer, out _), Is.EqualTo(200));
    }

}

internal sealed class DelegateService(string name, int priority, Func<SipRequest, bool> onRequest, string[]? methods = null) : SipService(name, priority)
{
    public override IReadOnlyCollection<string> Methods => methods ?? [];

    public override bool OnRequest(SipRequest request) => onRequest(request);
}
