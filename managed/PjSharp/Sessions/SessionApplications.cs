namespace PjSharp.Sessions;

/// <summary>Ready applications to map with <see cref="SessionRouter.MapInvite"/>.</summary>
public static class SessionApplications
{
    /// <summary>Answers and sends back the RTP it receives, until the caller hangs up.</summary>
    public static async Task Echo(SipSession session, CancellationToken ended)
    {
        ArgumentNullException.ThrowIfNull(session);
        await session.InvokeAsync(() => session.Audio?.StartEcho()).ConfigureAwait(false);
        await session.AnswerAsync().ConfigureAwait(false);
        await WaitForEndAsync(session).ConfigureAwait(false);
    }

    /// <summary>An application that answers, plays <paramref name="wavFile"/> and hangs up.</summary>
    public static SessionHandler Playback(string wavFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(wavFile);
        var path = Path.GetFullPath(wavFile);
        return async (session, ended) =>
        {
            await session.AnswerAsync().ConfigureAwait(false);
            var audio = session.Audio ?? throw new InvalidOperationException("The call has no audio to play to.");
            await audio.PlayAsync(path, ended).ConfigureAwait(false);
            await session.HangupAsync().ConfigureAwait(false);
        };
    }

    /// <summary>Completes when the session has ended.</summary>
    public static Task WaitForEndAsync(SipSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.Completion;
    }
}
