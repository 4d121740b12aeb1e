using PjSharp.Hosting;

namespace PjSharp.Server.Tests.Hosting;

/// <summary>The security directory's rebuilds overlap; the one that began last must be the one that stays.</summary>
public sealed class NewestWinsTests
{
    [Test]
    public void A_rebuild_that_began_earlier_but_finished_later_is_not_published()
    {
        var rebuilds = new NewestWins();
        var published = "initial";
        var earlier = rebuilds.Begin();
        var later = rebuilds.Begin();

        Assert.That(rebuilds.TryPublish(later, () => published = "with the later change"), Is.True);
        Assert.That(rebuilds.TryPublish(earlier, () => published = "without it"), Is.False);
        Assert.That(published, Is.EqualTo("with the later change"));
    }

    [Test]
    public void Rebuilds_finishing_in_the_order_they_began_are_each_published()
    {
        var rebuilds = new NewestWins();
        var published = new List<int>();
        var first = rebuilds.Begin();
        var second = rebuilds.Begin();

        Assert.That(rebuilds.TryPublish(first, () => published.Add(1)), Is.True);
        Assert.That(rebuilds.TryPublish(second, () => published.Add(2)), Is.True);
        Assert.That(published, Is.EqualTo(new[] { 1, 2 }));
    }

    [Test]
    public async Task Of_many_concurrent_rebuilds_the_last_published_is_the_newest_begun()
    {
        var rebuilds = new NewestWins();
        long published = 0;
        var tickets = Enumerable.Range(0, 64).Select(_ => rebuilds.Begin()).ToArray();
        var random = new Random(7);
        var finishing = tickets.OrderBy(_ => random.Next()).ToArray();

        await Task.WhenAll(finishing.Select(ticket => Task.Run(() => rebuilds.TryPublish(ticket, () => published = ticket))));

        Assert.That(published, Is.EqualTo(tickets.Max()));
    }
}
