using PjSharp.DataAccess;
using PjSharp.OutboundRegistration;

namespace PjSharp.Tests.OutboundRegistration;

public sealed class RegistrationRetryPolicyTests
{
    private static readonly Registration Defaults = new("trunk");

    [TestCase(0, RegistrationFailure.Temporary)]
    [TestCase(408, RegistrationFailure.Temporary)]
    [TestCase(500, RegistrationFailure.Temporary)]
    [TestCase(502, RegistrationFailure.Temporary)]
    [TestCase(503, RegistrationFailure.Temporary)]
    [TestCase(504, RegistrationFailure.Temporary)]
    [TestCase(603, RegistrationFailure.Temporary)]
    [TestCase(403, RegistrationFailure.Forbidden)]
    [TestCase(401, RegistrationFailure.AuthenticationRejected)]
    [TestCase(407, RegistrationFailure.AuthenticationRejected)]
    [TestCase(400, RegistrationFailure.Fatal)]
    [TestCase(404, RegistrationFailure.Fatal)]
    [TestCase(420, RegistrationFailure.Fatal)]
    [TestCase(480, RegistrationFailure.Fatal)]
    [TestCase(501, RegistrationFailure.Fatal)]
    public void Answers_fall_in_asterisks_classes(int code, RegistrationFailure expected) =>
        Assert.That(RegistrationRetryPolicy.Classify(code), Is.EqualTo(expected));

    [Test]
    public void A_temporary_failure_is_retried_after_retry_interval_until_max_retries()
    {
        var registration = Defaults with { RetryInterval = 30, MaxRetries = 2 };
        Assert.That(RegistrationRetryPolicy.AfterFailure(registration, 503, retries: 0),
            Is.EqualTo(new RegistrationDecision(RegistrationState.Retrying, TimeSpan.FromSeconds(30), 1)));
        Assert.That(RegistrationRetryPolicy.AfterFailure(registration, 408, retries: 1),
            Is.EqualTo(new RegistrationDecision(RegistrationState.Retrying, TimeSpan.FromSeconds(30), 2)));
        Assert.That(RegistrationRetryPolicy.AfterFailure(registration, 503, retries: 2),
            Is.EqualTo(new RegistrationDecision(RegistrationState.Rejected, null, 2)), "retries used up");
    }

    [Test]
    public void Retry_after_wins_and_does_not_count_as_a_retry()
    {
        var registration = Defaults with { RetryInterval = 30, MaxRetries = 0 };
        Assert.That(RegistrationRetryPolicy.AfterFailure(registration, 503, retries: 0, retryAfterSeconds: 120),
            Is.EqualTo(new RegistrationDecision(RegistrationState.Retrying, TimeSpan.FromSeconds(120), 0)));
    }

    [Test]
    public void Forbidden_stops_unless_forbidden_retry_interval_is_set()
    {
        Assert.That(RegistrationRetryPolicy.AfterFailure(Defaults, 403, 0).State, Is.EqualTo(RegistrationState.Rejected));
        var retrying = RegistrationRetryPolicy.AfterFailure(Defaults with { ForbiddenRetryInterval = 90 }, 403, 0);
        Assert.That(retrying, Is.EqualTo(new RegistrationDecision(RegistrationState.Retrying, TimeSpan.FromSeconds(90), 1)));
        Assert.That(RegistrationRetryPolicy.AfterFailure(Defaults with { ForbiddenRetryInterval = 90, FatalRetryInterval = 5 }, 403, 0).NextAttemptIn,
            Is.EqualTo(TimeSpan.FromSeconds(90)), "forbidden_retry_interval takes precedence for 403");
    }

    [Test]
    public void Rejected_credentials_are_permanent_only_with_auth_rejection_permanent()
    {
        Assert.That(RegistrationRetryPolicy.AfterFailure(Defaults with { AuthRejectionPermanent = true }, 401, 0).State,
            Is.EqualTo(RegistrationState.Rejected));
        Assert.That(RegistrationRetryPolicy.AfterFailure(Defaults with { AuthRejectionPermanent = false, RetryInterval = 20 }, 407, 0),
            Is.EqualTo(new RegistrationDecision(RegistrationState.Retrying, TimeSpan.FromSeconds(20), 1)));
        Assert.That(RegistrationRetryPolicy.AfterFailure(Defaults with { AuthRejectionPermanent = true, FatalRetryInterval = 300 }, 401, 0).NextAttemptIn,
            Is.EqualTo(TimeSpan.FromSeconds(300)), "a permanent rejection is fatal, so fatal_retry_interval applies");
    }

    [Test]
    public void Fatal_answers_retry_only_with_fatal_retry_interval_and_retries_left()
    {
        Assert.That(RegistrationRetryPolicy.AfterFailure(Defaults, 404, 0), Is.EqualTo(new RegistrationDecision(RegistrationState.Rejected, null, 0)));
        var registration = Defaults with { FatalRetryInterval = 600, MaxRetries = 1 };
        Assert.That(RegistrationRetryPolicy.AfterFailure(registration, 404, 0),
            Is.EqualTo(new RegistrationDecision(RegistrationState.Retrying, TimeSpan.FromSeconds(600), 1)));
        Assert.That(RegistrationRetryPolicy.AfterFailure(registration, 404, 1).State, Is.EqualTo(RegistrationState.Rejected));
    }

    [Test]
    public void A_temporary_failure_without_retry_interval_is_fatal()
    {
        Assert.That(RegistrationRetryPolicy.AfterFailure(Defaults with { RetryInterval = 0 }, 503, 0).State, Is.EqualTo(RegistrationState.Rejected));
        Assert.That(RegistrationRetryPolicy.AfterFailure(Defaults with { RetryInterval = 0, FatalRetryInterval = 45 }, 503, 0).NextAttemptIn,
            Is.EqualTo(TimeSpan.FromSeconds(45)));
    }

    [TestCase(3600u, 3590.0)]
    [TestCase(60u, 50.0)]
    [TestCase(20u, 10.0)]
    [TestCase(6u, 3.0)]
    [TestCase(1u, 1.0)]
    public void Refreshes_go_out_before_the_granted_time_runs_out(uint granted, double refreshSeconds) =>
        Assert.That(RegistrationRetryPolicy.RefreshIn(granted), Is.EqualTo(TimeSpan.FromSeconds(refreshSeconds)));
}
