using PjSharp.DataAccess;

namespace PjSharp.OutboundRegistration;

/// <summary>How a failed REGISTER is treated.</summary>
public enum RegistrationFailure
{
    /// <summary>No answer (timeout, transport error), 408, 500, 502, 503, 504, or 6xx: retried after <c>retry_interval</c>.</summary>
    Temporary,
    /// <summary>403: retried after <c>forbidden_retry_interval</c> when it is set, else fatal.</summary>
    Forbidden,
    /// <summary>401/407 after the credentials were sent: temporary unless <c>auth_rejection_permanent</c>, then fatal.</summary>
    AuthenticationRejected,
    /// <summary>Any other answer (404, 400, 420, 501, ...): retried after <c>fatal_retry_interval</c> when set, else permanent.</summary>
    Fatal,
}

/// <summary>What happens after an answer: the new state, when to try again (null: never) and the retry count.</summary>
public readonly record struct RegistrationDecision(RegistrationState State, TimeSpan? NextAttemptIn, uint Retries);

/// <summary>
/// The retry classes of an outbound registration, as Asterisk's outbound registration module has them:
/// temporary answers are retried every <c>retry_interval</c> up to <c>max_retries</c>; 403 only with
/// <c>forbidden_retry_interval</c>; everything else is fatal and retried only with <c>fatal_retry_interval</c>.
/// A Retry-After in the answer wins over all of them.
/// </summary>
public static class RegistrationRetryPolicy
{
    /// <summary>Seconds before expiry that a refresh goes out when the grant is long enough.</summary>
    public const uint RefreshMarginSeconds = 10;

    /// <summary>The class of a final non-2xx <paramref name="statusCode"/> (0 when nothing answered).</summary>
    public static RegistrationFailure Classify(int statusCode) => statusCode switch
    {
        0 or 408 or 500 or 502 or 503 or 504 => RegistrationFailure.Temporary,
        >= 600 and < 700 => RegistrationFailure.Temporary,
        403 => RegistrationFailure.Forbidden,
        401 or 407 => RegistrationFailure.AuthenticationRejected,
        _ => RegistrationFailure.Fatal,
    };

    /// <summary>
    /// The decision after a failed REGISTER answered <paramref name="statusCode"/> (a 401/407 here means the
    /// credentials were rejected: pjsip answers the first challenge itself), with <paramref name="retries"/>
    /// made so far and the answer's Retry-After (0 when absent).
    /// </summary>
    public static RegistrationDecision AfterFailure(Registration registration, int statusCode, uint retries, uint retryAfterSeconds = 0)
    {
        ArgumentNullException.ThrowIfNull(registration);
        if (retryAfterSeconds > 0)
            return Retry(retryAfterSeconds, retries);
        var failure = Classify(statusCode);
        if (failure == RegistrationFailure.AuthenticationRejected)
            failure = registration.AuthRejectionPermanent ? RegistrationFailure.Fatal : RegistrationFailure.Temporary;
        if (failure == RegistrationFailure.Temporary && registration.RetryInterval > 0)
            return retries >= registration.MaxRetries ? Rejected(retries) : Retry(registration.RetryInterval, retries + 1);
        if (failure == RegistrationFailure.Forbidden && registration.ForbiddenRetryInterval > 0)
            return retries >= registration.MaxRetries ? Rejected(retries) : Retry(registration.ForbiddenRetryInterval, retries + 1);
        // Fatal, or a temporary/forbidden answer without its own interval: only fatal_retry_interval tries again.
        if (registration.FatalRetryInterval > 0 && retries < registration.MaxRetries)
            return Retry(registration.FatalRetryInterval, retries + 1);
        return Rejected(retries);
    }

    /// <summary>When to refresh a registration the registrar granted for <paramref name="grantedSeconds"/>.</summary>
    public static TimeSpan RefreshIn(uint grantedSeconds)
    {
        // Long grants refresh a fixed margin early; short ones (tests, aggressive registrars) at half time.
        var seconds = grantedSeconds > 2 * RefreshMarginSeconds ? grantedSeconds - RefreshMarginSeconds : grantedSeconds / 2.0;
        return TimeSpan.FromSeconds(Math.Max(1, seconds));
    }

    private static RegistrationDecision Retry(uint seconds, uint retries) =>
        new(RegistrationState.Retrying, TimeSpan.FromSeconds(seconds), retries);

    private static RegistrationDecision Rejected(uint retries) => new(RegistrationState.Rejected, null, retries);
}
