using System.Diagnostics;
using PjSharp.DataAccess;
using PjSharp.DataAccess.Sqlite;
using PjSharp.Server.Tests.Sip;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Registrar;

/// <summary>
/// Single-node SQLite mode when the disk fails the server: a full disk (a small tmpfs) and a database file that is
/// read-only. REGISTER gets 503 with Retry-After and the log says why, once; the server keeps running, nothing it
/// acknowledged is lost, and it recovers by itself when the disk is usable again. Mounting needs root, as CI runs.
/// </summary>
[NonParallelizable]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DatabaseFaultTests
{
    private const int Users = 400;

    [Test]
    [CancelAfter(120_000)]
    public async Task A_full_disk_answers_503_loses_nothing_acknowledged_and_recovers_when_space_returns()
    {
        var directory = Directory.CreateTempSubdirectory("pjsharp-disk-full-").FullName;
        var disk = Path.Combine(directory, "disk");
        Directory.CreateDirectory(disk);
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", disk);
        try
        {
            var config = Path.Combine(directory, "pjsip.conf");
            await File.WriteAllTextAsync(config, RegistrarTestServer.Phones(users: UserNames()));
            var database = Path.Combine(disk, "pjsharp.db");
            await using var server = await ServerProcess.StartAsync(ServeOptions(config, database, directory));
            var udp = server.Listening.First(l => l.Protocol == "udp").EndPoint;

            var acknowledged = new List<string>();
            string? refusal = null;
            var next = 0;
            for (; next < Users && refusal == null; next++)
            {
                using var phone = new SipPhone(udp, UserNames()[next], $"secret-{UserNames()[next]}");
                var answer = await phone.RegisterAsync(expires: 600);
                switch (SipWire.StatusOf(answer))
                {
                    case 200:
                        acknowledged.Add(phone.User);
                        break;
                    case 503:
                        refusal = answer;
                        break;
                    default:
                        Assert.Fail($"REGISTER of {phone.User} answered:\n{answer}\n{server.OutputTail(40)}");
                        break;
                }
            }
            Assert.That(refusal, Is.Not.Null, $"the disk never filled after {Users} registrations");
            Assert.That(acknowledged, Is.Not.Empty, "registrations before the disk filled were answered 200");
            Assert.That(SipWire.HeaderValues(refusal!, "Retry-After"), Is.Not.Empty, "the 503 says when to try again");
            Assert.That(server.HasExited, Is.False, "a full disk does not stop the server");
            await WaitForOutputAsync(server, "is unavailable", "the log says the database is unavailable");
            Assert.That(server.OutputTail(400), Does.Contain("full").IgnoreCase, "and why: the disk is full");

            // Room again: the next registrations are taken without a restart.
            await RunAsync("mount", "-o", "remount,size=64m", disk);
            var recovered = false;
            for (var attempt = 0; attempt < 20 && !recovered; attempt++, next++)
            {
                using var phone = new SipPhone(udp, UserNames()[next], $"secret-{UserNames()[next]}");
                if (SipWire.StatusOf(await phone.RegisterAsync(expires: 600)) == 200)
                {
                    acknowledged.Add(phone.User);
                    recovered = true;
                }
                else
                {
                    await Task.Delay(250);
                }
            }
            Assert.That(recovered, Is.True, $"registrations succeed again once there is room:\n{server.OutputTail(40)}");
            await WaitForOutputAsync(server, "available again", "the log says the database is back");

            // Killed without a goodbye: every 200 it sent is in the file.
            server.Signal(ProcessSignals.Kill);
            await server.WaitForExitAsync(CancellationToken.None);
            await AssertRegisteredAsync(database, acknowledged);
        }
        finally
        {
            await RunAsync("umount", "-l", disk);
            Directory.Delete(directory, recursive: true);
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task A_read_only_database_file_answers_503_and_recovers_when_writable()
    {
        // Root writes through file permissions, so the server runs as nobody here.
        var directory = Directory.CreateTempSubdirectory("pjsharp-read-only-").FullName;
        try
        {
            var config = Path.Combine(directory, "pjsip.conf");
            await File.WriteAllTextAsync(config, RegistrarTestServer.Phones());
            var database = Path.Combine(directory, "pjsharp.db");
            await RunAsync("chown", "-R", "nobody:nogroup", directory);
            await RunAsync("chmod", "755", directory);

            await using (var first = await ServerProcess.StartAsync(AsNobody(ServeOptions(config, database, directory))))
            {
                using var alice = new SipPhone(first.Listening.First(l => l.Protocol == "udp").EndPoint, "alice", "secret-alice");
                Assert.That(SipWire.StatusOf(await alice.RegisterAsync(expires: 600)), Is.EqualTo(200));
                await first.StopAsync(TimeSpan.FromSeconds(15));
            }
            File.SetUnixFileMode(database, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

            await using var server = await ServerProcess.StartAsync(AsNobody(ServeOptions(config, database, directory)));
            var udp = server.Listening.First(l => l.Protocol == "udp").EndPoint;
            Assert.That(server.OutputTail(100), Does.Contain("read-only"), "the start says the database is read-only");
            using var bob = new SipPhone(udp, "bob", "secret-bob");
            var refused = await bob.RegisterAsync(expires: 600);
            Assert.That(SipWire.StatusOf(refused), Is.EqualTo(503), refused);
            Assert.That(SipWire.HeaderValues(refused!, "Retry-After"), Is.Not.Empty);
            Assert.That(server.HasExited, Is.False);

            // SQLite gave the WAL files the database's mode: all of them are made writable, as an operator would.
            foreach (var file in Directory.GetFiles(directory, "pjsharp.db*"))
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            string? answer = null;
            for (var attempt = 0; attempt < 20 && SipWire.StatusOf(answer) != 200; attempt++)
            {
                answer = await bob.RegisterAsync(expires: 600);
                if (SipWire.StatusOf(answer) != 200)
                    await Task.Delay(250);
            }
            Assert.That(SipWire.StatusOf(answer), Is.EqualTo(200), $"writable again, without a restart:\n{server.OutputTail(40)}");

            server.Signal(ProcessSignals.Kill);
            await server.WaitForExitAsync(CancellationToken.None);
            await AssertRegisteredAsync(database, ["alice", "bob"]);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string[] UserNames() => [.. Enumerable.Range(0, Users + 40).Select(i => $"u{i:D4}")];

    private static ServerProcessOptions ServeOptions(string config, string database, string directory) =>
        SipTestServer.Locate().Serve(["--config", config, "--db", database, "--transport", "udp:127.0.0.1:0"]) with
        {
            ReadyTimeout = SipTestServer.ReadyTimeout,
            WorkingDirectory = directory,
        };

    // setpriv execs the server in place: the PID stays the server's, so signals reach it.
    private static ServerProcessOptions AsNobody(ServerProcessOptions options) => options with
    {
        FileName = "setpriv",
        Arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", options.FileName, .. options.Arguments],
        Environment = new Dictionary<string, string?> { ["HOME"] = options.WorkingDirectory, ["DOTNET_CLI_HOME"] = options.WorkingDirectory },
    };

    private static async Task AssertRegisteredAsync(string database, IReadOnlyCollection<string> users)
    {
        await using var backend = await SqliteBackend.OpenAsync(new SqliteBackendOptions { Path = database, MustExist = true });
        var stored = (await backend.RetrieveAllAsync(Contact.Type)).Cast<Contact>().Select(c => c.Aor).ToHashSet();
        Assert.That(users.Where(u => !stored.Contains(u)), Is.Empty, "every registration answered 200 is in the database");
    }

    private static async Task WaitForOutputAsync(ServerProcess server, string text, string because)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!server.OutputTail(400).Contains(text, StringComparison.OrdinalIgnoreCase) && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.That(server.OutputTail(400), Does.Contain(text).IgnoreCase, because);
    }

    private static async Task RunAsync(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            Assert.Fail($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error} — these tests run as root, as CI does");
    }
}
