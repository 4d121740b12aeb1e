namespace PjSharp.Tests.Support;

public class AllocationAssertTests
{
    [Test]
    public void An_allocation_per_call_is_seen()
    {
        object? kept = null;
        Assert.Throws<AssertionException>(() => AllocationAssert.NothingPerCall(10_000, () =>
        {
            for (var i = 0; i < 10_000; i++)
                kept = new object();
        }));
        Assert.That(kept, Is.Not.Null);
    }
}
