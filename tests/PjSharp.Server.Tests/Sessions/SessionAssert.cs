using Microsoft.Extensions.Logging;

namespace PjSharp.Server.Tests.Sessions;

internal static class SessionAssert
{
    /// <summary>A call flow that worked logged no error or warning (failed callbacks, handlers and negotiations log them).</summary>
    public static void NoWarnings(SessionTestHost host)
    {
        var problems = host.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Select(e => $"{e.Level} {e.Category} {e.Id}: {e.Message} {e.Exception}").ToList();
        Assert.That(problems, Is.Empty);
    }
}
