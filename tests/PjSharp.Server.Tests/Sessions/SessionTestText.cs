using PjSharp.Testing.Sipp;

namespace PjSharp.Server.Tests.Sessions;

/// <summary>Failure messages with both sides: SIPp's run and the host's log.</summary>
internal static class SessionTestText
{
    public static string Describe(this SippResult result, SessionTestHost host) =>
        result.Describe() + "\n--- host log ---\n" + host.LogText();

    public static string LogText(this SessionTestHost host) =>
        string.Join("\n", host.Logs.Entries.Select(e => $"{e.Level} {e.Category}: {e.Message}{(e.Exception == null ? "" : " " + e.Exception)}"));
}
