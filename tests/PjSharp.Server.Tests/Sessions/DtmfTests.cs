using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PjSharp.DataAccess;
using PjSharp.Sessions;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>DTMF in and out: SIP INFO, and RFC 4733 telephone-events on the call's RTP (payload type 101).</summary>
public class DtmfTests
{
    [SetUp]
    public void RequireSipp() => Sip.SipTestServer.RequireSipp();

    [Test]
    [CancelAfter(60_000)]
    public async Task Digits_in_sip_info_reach_the_application()
    {
        var application = new ReadDigits(2);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("dtmf", application.RunAsync));
        var result = await host.RunSippAsync("dtmf-info-uac.xml", "dtmf");
        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        Assert.That(await application.Digits.Task.WaitAsync(TimeSpan.FromSeconds(5)),
            Is.EqualTo(new[] { new DtmfDigit('5', DtmfSource.SipInfo), new DtmfDigit('7', DtmfSource.SipInfo) }));
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task Rfc4733_events_reach_the_application()
    {
        var application = new ReadDigits(2);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("dtmf", application.RunAsync));
        using var rtp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var run = host.RunSippAsync("call-rtp-server-bye-uac.xml", "dtmf", extra: RtpPortKey(rtp));
        var session = await application.Session.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var audio = session.Audio;
        Assert.That(audio is { HasStream: true }, "the answered call has a pjmedia stream");
        var sender = new RtpSender(rtp, new IPEndPoint(IPAddress.Loopback, audio!.LocalPort));
        await sender.SendAudioAsync(10);
        await sender.SendEventAsync('5');
        await sender.SendAudioAsync(5);
        await sender.SendEventAsync('#');
        await sender.SendAudioAsync(5);
        var digits = await application.Digits.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var result = await run;
        Assert.That(digits, Is.EqualTo(new[] { new DtmfDigit('5', DtmfSource.Rfc4733), new DtmfDigit('#', DtmfSource.Rfc4733) }));
        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task SendDtmfAsync_with_dtmf_mode_rfc4733_sends_telephone_events()
    {
        var hangup = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("dtmf", async (session, ended) =>
        {
            await session.AnswerAsync();
            try
            {
                await session.SendDtmfAsync("12");
                sent.TrySetResult();
            }
            catch (Exception exception)
            {
                sent.TrySetException(exception);
                throw;
            }
            await hangup.Task.WaitAsync(TimeSpan.FromSeconds(10), ended);
        }), endpoint: SessionTestHost.DefaultEndpoint with { DtmfMode = DtmfMode.Rfc4733 });
        using var rtp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var run = host.RunSippAsync("call-rtp-server-bye-uac.xml", "dtmf", extra: RtpPortKey(rtp));
        var ended = await ReceiveEventsAsync(rtp, count: 2, TimeSpan.FromSeconds(8));
        hangup.TrySetResult();
        var result = await run;
        Assert.Multiple(() =>
        {
            Assert.That(sent.Task.IsCompletedSuccessfully, Is.True, "SendDtmfAsync completed");
            Assert.That(ended, Is.EqualTo("12"), "telephone-events (PT 101) ending for 1 then 2");
            Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        });
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task SendDtmfAsync_with_dtmf_mode_info_sends_one_info_per_digit()
    {
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("dtmf", async (session, ended) =>
        {
            await session.AnswerAsync();
            await session.SendDtmfAsync("12");
        }), endpoint: SessionTestHost.DefaultEndpoint with { DtmfMode = DtmfMode.Info });
        var result = await host.RunSippAsync("dtmf-info-out-uac.xml", "dtmf");
        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        await host.WaitForNoSessionsAsync();
    }

    [Test]
    [CancelAfter(60_000)]
    public async Task A_caller_hanging_up_while_the_application_waits_for_a_key_ends_it_quietly()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = SessionTestHost.Start(s => s.Router.MapInvite("dtmf", async (session, ended) =>
        {
            try
            {
                await session.AnswerAsync();
                await session.Dtmf.ReadAsync(ended);
            }
            finally
            {
                done.TrySetResult();
            }
        }));

        var result = await host.RunSippAsync("call-uac.xml", "dtmf", extra: ["-d", "300"]);

        Assert.That(result.Successful, Is.EqualTo(1), () => result.Describe(host));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await host.WaitForNoSessionsAsync();
        // The application's end is observed just after it returns: give a failure time to be logged.
        await Task.Delay(500);
        Assert.That(host.Logs.Entries.Where(e => e.Id.Id == 7001), Is.Empty,
            "the read ends with the call's cancellation, not a ChannelClosedException logged as the application's failure");
    }

    private static string[] RtpPortKey(UdpClient rtp) =>
        ["-key", "rtp_port", ((IPEndPoint)rtp.Client.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture)];

    /// <summary>The digits of the first <paramref name="count"/> telephone-events whose end packet arrives, in order.</summary>
    private static async Task<string> ReceiveEventsAsync(UdpClient rtp, int count, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var digits = "";
        var lastEndTimestamp = -1L;
        try
        {
            while (digits.Length < count)
            {
                var packet = (await rtp.ReceiveAsync(cancel.Token)).Buffer;
                if (packet.Length < 16 || (packet[1] & 0x7F) != RtpSender.TelephoneEvent)
                    continue;
                var timestamp = BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan(4));
                var isEnd = (packet[13] & 0x80) != 0;
                // The end packet is sent three times with the event's timestamp.
                if (!isEnd || timestamp == lastEndTimestamp)
                    continue;
                lastEndTimestamp = timestamp;
                digits += "0123456789*#ABCD"[packet[12]];
            }
        }
        catch (OperationCanceledException)
        {
        }
        return digits;
    }

    /// <summary>Answers, then reads <c>count</c> digits from <see cref="SipSession.Dtmf"/> and hangs up.</summary>
    private sealed class ReadDigits(int count)
    {
        public TaskCompletionSource<SipSession> Session { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<DtmfDigit[]> Digits { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task RunAsync(SipSession session, CancellationToken ended)
        {
            await session.AnswerAsync();
            Session.TrySetResult(session);
            var digits = new List<DtmfDigit>();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ended);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                while (digits.Count < count)
                    digits.Add(await session.Dtmf.ReadAsync(timeout.Token));
            }
            finally
            {
                Digits.TrySetResult([.. digits]);
            }
        }
    }
}
