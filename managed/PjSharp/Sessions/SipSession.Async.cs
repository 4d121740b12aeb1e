using PjSharp.DataAccess;

namespace PjSharp.Sessions;

#pragma warning disable CA1001 // See SipSession.cs: released when the session ends.
public sealed partial class SipSession
#pragma warning restore CA1001
{
    /// <summary>Sends DTMF as the endpoint's <c>dtmf_mode</c> says: RFC 4733 events on the audio stream, or SIP INFO.</summary>
    public async Task SendDtmfAsync(string digits)
    {
        ArgumentException.ThrowIfNullOrEmpty(digits);
        foreach (var digit in digits)
        {
            if (!IsDtmfDigit(digit))
                throw new ArgumentException($"'{digit}' is not a DTMF digit (0-9, *, #, A-D).", nameof(digits));
        }
        if (Endpoint.DtmfMode is DtmfMode.Info or DtmfMode.AutoInfo)
        {
            foreach (var digit in digits)
                _ = await SendRequestAsync("INFO", "application/dtmf-relay", $"Signal={digit}\r\nDuration=160\r\n").ConfigureAwait(false);
            return;
        }
        await InvokeAsync(() => (Audio ?? throw new InvalidOperationException("The call has no audio.")).SendDtmf(digits)).ConfigureAwait(false);
    }

    /// <summary>How long <see cref="TransferAsync"/> waits for the other party's final report by default.</summary>
    public static readonly TimeSpan DefaultTransferTimeout = TimeSpan.FromSeconds(32);

    /// <summary>
    /// Blind transfer (RFC 3515): asks the other party, by REFER, to call <paramref name="target"/>, and
    /// completes with the final status of that call as the other party reports it in NOTIFY (200: the
    /// target answered). When the REFER itself is refused, its status (403, 405, 501, ...). 408 when no
    /// final report arrives within <paramref name="timeout"/> (default <see cref="DefaultTransferTimeout"/>),
    /// 487 when the call ends first, 0 when the reports end without a final status. The call stays up:
    /// hang it up once the transfer succeeded. One transfer at a time per call.
    /// </summary>
    /// <param name="target">A SIP URI, e.g. <c>sip:operator@example.com</c>.</param>
    /// <param name="timeout">How long to wait for the final report after the REFER is accepted.</param>
    public async Task<int> TransferAsync(string target, TimeSpan? timeout = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(target);
        var referTo = target.Trim();
        if (referTo.AsSpan().IndexOfAny("\r\n") >= 0)
            throw new ArgumentException("The target must be a single-line SIP URI.", nameof(target));
        if (!referTo.StartsWith('<'))
            referTo = "<" + referTo + ">";
        var report = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await InvokeAsync(() =>
        {
            ThrowIfEnded();
            if (Interlocked.CompareExchange(ref _outgoingTransfer, report, null) != null)
                throw new InvalidOperationException("A transfer is already in progress on this session.");
        }).ConfigureAwait(false);
        try
        {
            var status = await SendRequestAsync("REFER", null, null, [new("Refer-To", referTo)]).ConfigureAwait(false);
            if (status is < 200 or >= 300)
                return status;
            return await report.Task.WaitAsync(timeout ?? DefaultTransferTimeout, Ended).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return 408;
        }
        catch (OperationCanceledException) when (Ended.IsCancellationRequested)
        {
            return report.Task.IsCompletedSuccessfully ? report.Task.Result : 487;
        }
        finally
        {
            Interlocked.CompareExchange(ref _outgoingTransfer, null, report);
        }
    }
}
