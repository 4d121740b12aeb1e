using PjSharp.DataAccess;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Reliable provisional responses (RFC 3262, 100rel and PRACK) through pjsip's module, driven by SIPp.</summary>
public class ReliableProvisionalTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    /// <summary>As Asterisk's: <c>yes</c> uses 100rel when the caller requires it, <c>peer_supported</c> also when it supports it.</summary>
    [TestCase(Rel100Mode.PeerSupported, "Supported: 100rel")]
    [TestCase(Rel100Mode.Yes, "Require: 100rel")]
    [TestCase(Rel100Mode.PeerSupported, "Require: 100rel")]
    [CancelAfter(60_000)]
    public async Task A_ringing_call_sends_a_reliable_180_that_is_pracked_then_answers(Rel100Mode mode, string rel100)
    {
        var application = new RingThenAnswer();
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("ring", application.RunAsync),
            endpoint: SessionTestHost.DefaultEndpoint with { Rel100 = mode });
        var result = await host.RunSippAsync("prack-uac.xml", "ring", extra: ["-key", "rel100", rel100]);
        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        Assert.That(await application.Answered.Task.WaitAsync(TimeSpan.FromSeconds(5)), Is.True, "AnswerAsync completed after the PRACK");
        await host.WaitForNoSessionsAsync();
    }

    [TestCase(Rel100Mode.No)]
    [TestCase(Rel100Mode.Yes)]
    [CancelAfter(60_000)]
    public async Task A_caller_that_only_supports_100rel_gets_an_unreliable_180_from_an_endpoint_with_100rel_yes_or_no(Rel100Mode mode)
    {
        var application = new RingThenAnswer();
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("ring", application.RunAsync),
            endpoint: SessionTestHost.DefaultEndpoint with { Rel100 = mode });
        var result = await host.RunSippAsync("ringing-unreliable-uac.xml", "ring");
        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        Assert.That(await application.Answered.Task.WaitAsync(TimeSpan.FromSeconds(5)), Is.True);
        await host.WaitForNoSessionsAsync();
    }

    /// <summary>Rings, waits long enough for the caller's PRACK, answers; reports whether both calls worked.</summary>
    private sealed class RingThenAnswer
    {
        public TaskCompletionSource<bool> Answered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task RunAsync(SipSession session, CancellationToken ended)
        {
            try
            {
                await session.RingAsync();
                await Task.Delay(300, ended);
                await session.AnswerAsync();
                Answered.TrySetResult(true);
            }
            catch (Exception exception)
            {
                Answered.TrySetException(exception);
                throw;
            }
            await session.Completion;
        }
    }
}
