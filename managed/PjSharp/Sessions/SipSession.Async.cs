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
}
