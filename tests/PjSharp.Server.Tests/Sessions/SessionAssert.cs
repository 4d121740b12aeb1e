using Microsoft.Extensions.Logging;

namespace PjSharp.Server.Tests.Sessions;

internal static class SessionAssert
{
    private const int BuildProblemEventId = 1007;

    /// <summary>A call flow that worked logged no error or warning (failed callbacks, handlers and negotiations log them).</summary>
    public static void NoWarnings(SessionTestHost host)
    {
        // Start-up's notes on the pjproject build (2.15.1 predates security fixes) are not the call's.
        var problems = host.Logs.Entries.Where(e => e.Level >= LogLevel.Warning && e.Id.Id != BuildProblemEventId).Select(e => $"{e.Level} {e.Category} {e.Id}: {e.Message} {e.Exception}").ToList();
        Assert.That(problems, Is.Empty);
    }
}
