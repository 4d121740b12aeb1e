using System.Globalization;
using PjSharp.DataAccess;
using PjSharp.DataAccess.Sqlite;

namespace PjSharp.DataAccess.Tests;

/// <summary>
/// Entry point when the test assembly runs as a program: the child of the kill -9 test. It writes contacts to a
/// SQLite file one at a time and prints "ack id" after each write returns, until it is killed.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 2 || args[0] != "write-contacts")
        {
            await Console.Error.WriteLineAsync("usage: PjSharp.DataAccess.Tests write-contacts <database>");
            return 2;
        }
        await using var backend = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = args[1] });
        await using var store = new ObjectStoreBuilder().AddBackend("sqlite", backend).Map(Contact.Type, "sqlite").Build();
        Console.Out.WriteLine("ready");
        await Console.Out.FlushAsync();
        for (var i = 0; ; i++)
        {
            var uri = string.Create(CultureInfo.InvariantCulture, $"sip:phone{i}@192.0.2.1:5060");
            var contact = new Contact(Contact.CreateId("alice", uri))
            {
                Uri = uri,
                Aor = "alice",
                Endpoint = "alice",
                ExpirationTime = DateTimeOffset.UtcNow.AddHours(1),
                CallId = string.Create(CultureInfo.InvariantCulture, $"call-{i}"),
            };
            await store.UpsertAsync(contact);
            Console.Out.WriteLine("ack " + contact.Id);
            await Console.Out.FlushAsync();
        }
    }
}
