using PjSharp.Server.Tests.Registrar;
using PjSharp.Server.Tests.Sip;

namespace PjSharp.Server.Tests.Samples;

/// <summary>samples/Registrar: digest authentication from its pjsip.conf, bindings logged by its store observer.</summary>
[NonParallelizable]
[CancelAfter(60_000)]
public sealed class RegistrarSampleTests
{
    [Test]
    public async Task A_phone_with_its_password_registers_and_unregisters_and_a_wrong_password_gets_401()
    {
        await using var sample = await RunningSample.StartAsync("Registrar");
        using var alice = new SipPhone(sample.EndPoint, "alice", "change-me");

        var registered = await alice.RegisterAsync();

        Assert.That(SipWire.StatusOf(registered), Is.EqualTo(200), registered);
        Assert.That(SipWire.HeaderValues(registered, "Contact", "m"), Has.Some.Contains(alice.ContactUri));
        await sample.WaitForOutputAsync($"alice registered {alice.ContactUri}");

        var removed = await alice.RegisterAsync(expires: 0);
        Assert.That(SipWire.StatusOf(removed), Is.EqualTo(200), removed);
        await sample.WaitForOutputAsync($"alice removed {alice.ContactUri}");

        using var bob = new SipPhone(sample.EndPoint, "bob", "not-his-password");
        var refused = await bob.RegisterAsync();
        Assert.That(SipWire.StatusOf(refused), Is.EqualTo(401), refused);
        Assert.That(SipWire.HeaderValues(refused, "WWW-Authenticate"), Is.Not.Empty, "challenged again");
        Assert.That(sample.Output, Does.Not.Contain("bob registered"));
    }

    [Test]
    public async Task The_sipp_run_of_the_readme_registers_alice_and_bob()
    {
        SipTestServer.RequireSipp();
        await using var sample = await RunningSample.StartAsync("Registrar");

        var result = await sample.RunSippAsync(RunningSample.Scenario("Registrar", "register-uac.xml"), calls: 2,
            extra: ["-inf", RunningSample.Scenario("Registrar", "users.csv")]);

        Assert.That(result.Successful, Is.EqualTo(2), () => sample.Describe(result));
        await sample.WaitForOutputAsync("alice registered sip:alice@127.0.0.1:");
        await sample.WaitForOutputAsync("bob registered sip:bob@127.0.0.1:");
    }
}
