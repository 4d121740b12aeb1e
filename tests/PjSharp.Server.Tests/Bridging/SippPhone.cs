using System.Globalization;
using System.Net;
using PjSharp.Server.Tests.Sessions;
using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Bridging;

/// <summary>
/// A phone played by SIPp on one loopback port: it registers there with digest authentication
/// (register-auth-uac.xml), then answers calls there with a server scenario.
/// </summary>
internal sealed class SippPhone : IAsyncDisposable
{
    private readonly List<SippRun> _runs = [];

    private SippPhone(string user, int port)
    {
        User = user;
        Port = port;
    }

    public string User { get; }

    public int Port { get; }

    /// <summary>Registers <paramref name="user"/> (password secret-USER) from a free port; the contact is sip:USER@127.0.0.1:PORT.</summary>
    public static async Task<SippPhone> RegisterAsync(IPEndPoint server, string user, int expires = 300)
    {
        for (var attempt = 0; ; attempt++)
        {
            var phone = new SippPhone(user, SippRunner.FreeUdpPort());
            var injection = Path.Combine(Path.GetTempPath(), $"pjsharp-phone-{Guid.NewGuid():N}.csv");
            await File.WriteAllTextAsync(injection, string.Create(CultureInfo.InvariantCulture,
                $"SEQUENTIAL\n{user};[authentication username={user} password=secret-{user}];{expires}\n"));
            try
            {
                var result = await SippRunner.RunAsync(new SippOptions
                {
                    Scenario = SippRunner.Scenario("register-auth-uac.xml"),
                    Target = $"127.0.0.1:{server.Port}",
                    LocalPort = phone.Port,
                    Timeout = TimeSpan.FromSeconds(15),
                    TraceErrors = true,
                    ExtraArguments = ["-inf", injection],
                });
                if (result.Successful == 1)
                    return phone;
                if (attempt == 2)
                    Assert.Fail($"{user} could not register: {result.Describe()}");
            }
            finally
            {
                File.Delete(injection);
            }
        }
    }

    /// <summary>Starts SIPp on the phone's port with a server scenario; returns once it listens.</summary>
    public async Task<SippRun> AnswerAsync(string scenario, IPEndPoint server, params string[] extra)
    {
        var run = SippRunner.Start(new SippOptions
        {
            Scenario = Path.IsPathRooted(scenario) ? scenario : SippRunner.Scenario(scenario),
            Target = $"127.0.0.1:{server.Port}",
            LocalPort = Port,
            MaxCalls = 1,
            Timeout = TimeSpan.FromSeconds(40),
            TraceErrors = true,
            ExtraArguments = extra,
        });
        _runs.Add(run);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!run.Completion.IsCompleted && !SippRunner.IsListening(Port) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.That(run.Completion.IsCompleted, Is.False, $"SIPp for {User} exited before listening: {(run.Completion.IsCompleted ? run.Completion.Result.Describe() : "")}");
        return run;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var run in _runs)
            await run.DisposeAsync();
    }
}
