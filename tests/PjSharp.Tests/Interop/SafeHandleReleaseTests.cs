using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using PjSharp.Interop;
using PjSharp.Services;
using PjSharp.Tests.Support;

namespace PjSharp.Tests.Interop;

/// <summary>
/// A cloned request owns a pjsip pool. Releasing the clone, whether by Dispose on any
/// thread or by the finalizer, must give the pool back, or a long-running server leaks.
/// </summary>
public class SafeHandleReleaseTests
{
    private const int Clones = 50;
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(3);

    [Test]
    public void Disposed_clones_return_pool_usage_to_baseline()
    {
        using var server = new TestEndpoint();
        var kept = new ConcurrentQueue<SipRequestClone>();
        server.Endpoint.RegisterService(ClonerInto(kept));
        using var client = new RawSipClient(server.Udp);
        var baseline = WarmUpAndMeasure(server, client, kept);

        SendClonedRequests(client, Clones);
        Assert.That(SettledPools(server), Is.EqualTo(baseline + Clones), "each clone holds a pool");

        // Dispose from thread-pool threads, which are not pjlib-registered until they call in.
        Parallel.ForEach(kept, clone => clone.Dispose());

        Assert.That(WaitForPools(server, baseline), Is.EqualTo(baseline));
    }

    [Test]
    public void Abandoned_clones_are_released_through_the_finalizer_and_a_worker()
    {
        using var server = new TestEndpoint();
        var kept = new ConcurrentQueue<SipRequestClone>();
        server.Endpoint.RegisterService(ClonerInto(kept));
        using var client = new RawSipClient(server.Udp);
        var baseline = WarmUpAndMeasure(server, client, kept);

        SendClonedRequests(client, Clones);
        Assert.That(SettledPools(server), Is.EqualTo(baseline + Clones));
        kept.Clear();
        CollectGarbage();

        // The finalizer thread may not call pjsip: it posts, and a worker releases.
        Assert.That(WaitForPools(server, baseline), Is.EqualTo(baseline));
        Assert.That(PjReleaseQueue.Count, Is.Zero);
    }

    [Test]
    public void Pool_handles_release_their_pools_when_disposed_or_collected()
    {
        using var server = new TestEndpoint();
        var baseline = SettledPools(server);

        var disposed = Enumerable.Range(0, 10).Select(i => server.Endpoint.CreatePool($"disposed{i}")).ToList();
        CreateAbandonedPools(server.Endpoint, 10);
        Assert.That(server.Endpoint.PoolsInUse, Is.EqualTo(baseline + 20));
        foreach (var pool in disposed)
            pool.Dispose();
        Assert.That(server.Endpoint.PoolsInUse, Is.EqualTo(baseline + 10), "Dispose on a registered thread releases at once");
        CollectGarbage();

        Assert.That(WaitForPools(server, baseline), Is.EqualTo(baseline));
    }

    [Test]
    public void Pool_memory_counts_what_pools_in_use_reserve_and_use_until_they_are_released()
    {
        using var server = new TestEndpoint();
        SettledPools(server);
        var before = server.Endpoint.PoolMemory;
        Assert.That(before.CapacityBytes, Is.GreaterThan(0), "the endpoint's own pools");

        var pools = Enumerable.Range(0, 10).Select(i => server.Endpoint.CreatePool($"usage{i}", initialSize: 8000)).ToList();
        var during = server.Endpoint.PoolMemory;
        foreach (var pool in pools)
            pool.Dispose();
        var after = server.Endpoint.PoolMemory;

        Assert.That(during.CapacityBytes - before.CapacityBytes, Is.GreaterThanOrEqualTo(10 * 8000), "each new pool reserves its initial block");
        Assert.That(during.UsedBytes, Is.GreaterThan(0).And.LessThanOrEqualTo(during.CapacityBytes));
        Assert.That(after, Is.EqualTo(before), "released pools are no longer counted");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CreateAbandonedPools(SipEndpoint endpoint, int count)
    {
        for (var i = 0; i < count; i++)
            _ = endpoint.CreatePool($"abandoned{i}");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CollectGarbage()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    private static DelegateService ClonerInto(ConcurrentQueue<SipRequestClone> kept) =>
        new("cloner", SipServicePriority.Application - 1, request =>
        {
            if (request.GetHeader("X-Clone") == null)
                return false;
            kept.Enqueue(request.Clone());
            // Stateless, so no transaction keeps a pool of its own for timer J.
            request.RespondStateless(202, "Accepted");
            return true;
        });

    private static long WarmUpAndMeasure(TestEndpoint server, RawSipClient client, ConcurrentQueue<SipRequestClone> kept)
    {
        // One round trip first, so pools pjsip creates lazily on first use are in the baseline.
        SendClonedRequests(client, 1);
        while (kept.TryDequeue(out var clone))
            clone.Dispose();
        return SettledPools(server);
    }

    // The client can read a stateless answer before the worker has released that answer's pool.
    private static long SettledPools(TestEndpoint server)
    {
        var last = server.Endpoint.PoolsInUse;
        for (var i = 0; i < 100; i++)
        {
            Thread.Sleep(20);
            var now = server.Endpoint.PoolsInUse;
            if (now == last)
                return now;
            last = now;
        }
        return last;
    }

    private static void SendClonedRequests(RawSipClient client, int count)
    {
        for (var i = 0; i < count; i++)
            Assert.That(client.Exchange(RawSipClient.Options(client.Local, extraHeaders: "X-Clone: 1\r\n"), Answer, out var response), Is.EqualTo(202), response);
    }

    private static long WaitForPools(TestEndpoint server, long baseline)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (server.Endpoint.PoolsInUse != baseline && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        return server.Endpoint.PoolsInUse;
    }
}
