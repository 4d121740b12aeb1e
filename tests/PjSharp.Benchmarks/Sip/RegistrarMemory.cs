using System.Collections.Concurrent;
using System.Globalization;
using PjSharp.DataAccess;
using PjSharp.Registrar;

namespace PjSharp.Benchmarks.Sip;

/// <summary>
/// What one registered contact keeps in the server's memory: the bindings the registrar holds
/// per AOR, built by the registrar's own planner from realistic REGISTERs. Prints bytes per contact
/// (managed heap after a full collection); the database keeps the rest on disk.
/// </summary>
public static class RegistrarMemory
{
    public static Task<int> RunAsync(string[] args)
    {
        const int contacts = 100_000;
        var now = DateTimeOffset.UtcNow;
        var aor = new Aor("template") { MaxContacts = 1, RemoveExisting = true };
        var held = new ConcurrentDictionary<string, IReadOnlyList<Contact>>(StringComparer.Ordinal);
        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < contacts; i++)
        {
            var user = string.Create(CultureInfo.InvariantCulture, $"u{i:D6}");
            var request = new RegisterRequest
            {
                Contacts = [new ContactEntry(string.Create(CultureInfo.InvariantCulture, $"sip:{user}@192.0.2.{i % 250}:{5060 + (i % 1000)};transport=UDP"))],
                Expires = 3600,
                CallId = string.Create(CultureInfo.InvariantCulture, $"{i}-4242@192.0.2.{i % 250}"),
                CSeq = 2,
                UserAgent = "Yealink SIP-T46S 66.86.0.15",
                ViaAddress = string.Create(CultureInfo.InvariantCulture, $"192.0.2.{i % 250}"),
                ViaPort = (uint)(5060 + (i % 1000)),
                Endpoint = user,
                RegistrationServer = "node-1",
            };
            var plan = BindingPlanner.Plan(aor with { Id = user }, [], request, now).Plan!;
            held[user] = [.. plan.Bindings.Select(b => b.Contact)];
        }
        var after = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"registrar memory: {contacts} contacts (one per AOR) hold {(after - before) / (double)contacts:0} bytes each on the managed heap (target: under 1 KB)"));
        GC.KeepAlive(held);
        return Task.FromResult(0);
    }
}
