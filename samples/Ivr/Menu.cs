using Microsoft.Extensions.Logging;
using PjSharp.Media;
using PjSharp.Sessions;

namespace Samples.Ivr;

/// <summary>
/// One call through the menu. Each call runs on its own, off pjsip's threads, so awaiting a
/// prompt or a digit holds nothing up.
/// </summary>
internal sealed partial class Menu(ILogger<Menu> logger)
{
    /// <summary>How long the caller has to choose once the prompt has ended.</summary>
    private static readonly TimeSpan DigitTimeout = TimeSpan.FromSeconds(10);

    private readonly string _prompt = Path.Combine(AppContext.BaseDirectory, "sounds", "menu.wav");

    public async Task RunAsync(SipSession session, CancellationToken ended)
    {
        LogCall(logger, session.CallId, session.RemoteIdentity);
        await session.AnswerAsync();
        var audio = session.Audio ?? throw new InvalidOperationException("The call has no audio stream.");
        while (true)
        {
            var choice = await PromptAsync(session, audio, ended);
            if (choice is not { } digit)
            {
                LogNoChoice(logger, session.CallId);
                break;
            }
            LogDigit(logger, session.CallId, digit.Digit, digit.Source);
            if (digit.Digit == '2')
                break;
            // 1, or any other key: the menu again.
        }
        await session.HangupAsync();
    }

    /// <summary>
    /// Plays the prompt and returns the first key pressed: during the prompt, which stops it (barge-in,
    /// as Asterisk's Background() does), or within <see cref="DigitTimeout"/> after it; null if none.
    /// </summary>
    private async Task<DtmfDigit?> PromptAsync(SipSession session, AudioChannel audio, CancellationToken ended)
    {
        LogMenu(logger, session.CallId);
        using var bargeIn = CancellationTokenSource.CreateLinkedTokenSource(ended);
        using var choosing = CancellationTokenSource.CreateLinkedTokenSource(ended);
        var playing = audio.PlayAsync(_prompt, bargeIn.Token);
        var pressed = session.Dtmf.ReadAsync(choosing.Token).AsTask();
        if (await Task.WhenAny(playing, pressed) == pressed)
            await bargeIn.CancelAsync();
        try
        {
            await playing;
        }
        catch (OperationCanceledException) when (bargeIn.IsCancellationRequested && !ended.IsCancellationRequested)
        {
            // Cut short by the key press.
        }
        choosing.CancelAfter(DigitTimeout);
        try
        {
            return await pressed;
        }
        catch (OperationCanceledException) when (!ended.IsCancellationRequested)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Call {CallId} from {Caller}")]
    private static partial void LogCall(ILogger logger, string callId, SessionIdentity caller);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Call {CallId}: playing the menu")]
    private static partial void LogMenu(ILogger logger, string callId);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Call {CallId}: digit {Digit} ({Source})")]
    private static partial void LogDigit(ILogger logger, string callId, char digit, DtmfSource source);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Call {CallId}: no choice made; hanging up")]
    private static partial void LogNoChoice(ILogger logger, string callId);
}
