using System.Collections.Concurrent;
using System.Globalization;
using PjSharp.DataAccess;
using PjSharp.Registrar;
using PjSharp.Servants;

namespace PjSharp.Tests.Registrar;

/// <summary>The three pieces as the registrar service will combine them: servant per AOR, plan, group commit, answer.</summary>
[CancelAfter(60_000)]
public sealed class RegistrarFlowTests
{
    /// <summary>One REGISTER's work on its AOR's servant: read the bindings, plan, commit, then "answer".</summary>
    private sealed class RegisterWork(ObjectStore store, ContactWriter writer, Aor aor, RegisterRequest request) : ServantWork
    {
        public TaskCompletionSource<RegisterDecision> Answered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask RunAsync(CancellationToken cancellationToken)
        {
            var current = await store.FindByPrefixAsync<Contact>(Contact.IdPrefix(aor.Id), cancellationToken);
            var decision = BindingPlanner.Plan(aor, current, request, DateTimeOffset.UtcNow);
            if (decision.IsAccepted && decision.Plan.HasChanges)
                await writer.WriteAsync(decision.Plan.ToWrites(), cancellationToken);
            Answered.SetResult(decision);
        }
    }

    [Test]
    public async Task Concurrent_registrations_per_aor_are_planned_in_order_and_committed_before_the_answer()
    {
        await using var store = new ObjectStoreBuilder().AddBackend("memory", new MemoryBackend()).Map(Contact.Type, "memory").Build();
        await using var writer = new ContactWriter(store);
        await using var servants = new ServantDispatcher<string>(new ServantOptions { Name = "registrar" });
        var aors = Enumerable.Range(0, 20).Select(i => new Aor("aor" + i.ToString(CultureInfo.InvariantCulture)) { MaxContacts = 2, RemoveExisting = true }).ToArray();
        var answers = new ConcurrentQueue<(Aor Aor, int Step, RegisterDecision Decision)>();

        // Per AOR: five phones register in turn (CSeq rising on one Call-ID); remove_existing keeps the latest two.
        await Task.WhenAll(aors.Select(aor => Task.Run(async () =>
        {
            var pending = new List<(int Step, RegisterWork Work)>();
            for (var step = 1; step <= 5; step++)
            {
                var request = new RegisterRequest
                {
                    Contacts = [new ContactEntry($"sip:phone{step}@192.0.2.{step}") { Expires = (uint)(600 * step) }],
                    CallId = "reg-" + aor.Id,
                    CSeq = (uint)step,
                };
                var work = new RegisterWork(store, writer, aor, request);
                Assert.That(servants.TryEnqueue(aor.Id, work), Is.True);
                pending.Add((step, work));
            }
            foreach (var (step, work) in pending)
                answers.Enqueue((aor, step, await work.Answered.Task));
        })));

        Assert.That(answers.All(a => a.Decision.IsAccepted), Is.True);
        foreach (var aor in aors)
        {
            var last = answers.Single(a => a.Aor == aor && a.Step == 5).Decision.Plan!;
            Assert.That(last.Bindings.Select(b => b.Uri), Is.EquivalentTo(new[] { "sip:phone4@192.0.2.4", "sip:phone5@192.0.2.5" }));
            var stored = await store.FindByPrefixAsync<Contact>(Contact.IdPrefix(aor.Id));
            Assert.That(stored.Select(c => c.Uri), Is.EquivalentTo(new[] { "sip:phone4@192.0.2.4", "sip:phone5@192.0.2.5" }), "the answer matches what is stored");
        }
        Assert.That(servants.ActiveKeys, Is.Zero);
        Assert.That(writer.BatchesFailed, Is.Zero);
    }
}
