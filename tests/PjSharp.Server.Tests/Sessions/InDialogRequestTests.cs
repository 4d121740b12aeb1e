using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>In-dialog requests: sent by the application with SendRequestAsync, and received into session.Messages.</summary>
public class InDialogRequestTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    [CancelAfter(60_000)]
    public async Task Requests_go_both_ways_inside_the_call_and_an_unknown_method_gets_501()
    {
        var statuses = new TaskCompletionSource<(int Message, int Info)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new TaskCompletionSource<SessionMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("chat", async (session, ended) =>
        {
            await session.AnswerAsync();
            try
            {
                var message = await session.SendRequestAsync("MESSAGE", "text/plain", "hello");
                var info = await session.SendRequestAsync("INFO", "application/x-pjsharp-test", "ping");
                statuses.TrySetResult((message, info));
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ended);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                received.TrySetResult(await session.Messages.ReadAsync(timeout.Token));
            }
            catch (Exception exception)
            {
                statuses.TrySetException(exception);
                received.TrySetException(exception);
                throw;
            }
        }));
        var result = await host.RunSippAsync("in-dialog-uac.xml", "chat");
        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        Assert.That(await statuses.Task.WaitAsync(TimeSpan.FromSeconds(5)), Is.EqualTo((200, 200)), "SendRequestAsync returns the peer's final status");
        var message = await received.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Multiple(() =>
        {
            Assert.That(message.Method, Is.EqualTo("MESSAGE"));
            Assert.That(message.ContentType, Does.StartWith("text/plain"));
            Assert.That(message.Body.TrimEnd(), Is.EqualTo("hi from sipp"));
        });
        await host.WaitForNoSessionsAsync();
    }
}
