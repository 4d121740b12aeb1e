namespace PjSharp.Tests.Support;

/// <summary>Checks that a hot path allocates nothing per call.</summary>
internal static class AllocationAssert
{
    // The runtime can charge a few bytes to this thread without any allocation of ours: JIT work
    // (on-stack replacement, first calls) and suspensions to install tiered code. An allocation per
    // call would add at least 24 bytes for every call, far above this.
    private const long RuntimeSlack = 256;

    /// <summary>
    /// Runs <paramref name="loop"/> (which makes <paramref name="calls"/> calls) twice to warm up
    /// every path, then measures it up to three times: a real per-call allocation shows in every run.
    /// </summary>
    public static void NothingPerCall(int calls, Action loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        Assert.That(calls * 24L, Is.GreaterThan(RuntimeSlack * 10), "too few calls to tell");
        loop();
        loop();
        var least = long.MaxValue;
        for (var attempt = 0; attempt < 3 && least >= RuntimeSlack; attempt++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            loop();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.That(least, Is.LessThan(RuntimeSlack), $"{least} bytes over {calls} calls");
    }
}
