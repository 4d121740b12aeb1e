using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using PjSharp.DataAccess.Tools;

namespace PjSharp.Hosting.Admin;

/// <summary>The tables <c>pjsharp show --server</c> prints, read from the running server.</summary>
internal static class ServerTables
{
    /// <summary>The configured objects (as the server sees them, with its database) and what only a running server knows.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [.. ConfigReport.ShowKinds, "calls", "blocked"];

    public static async Task<ConfigTable> BuildAsync(PjSharpServer server, IServiceProvider services, string kind, CancellationToken cancellationToken)
    {
        switch (kind)
        {
            case "transports":
                return Transports(server);
            case "calls":
                return Calls(services.GetService<SessionsComponent>()?.Service);
            case "blocked":
                return Blocked(server);
            default:
                var view = new StoreView(server.Store);
                return await ConfigReport.TableAsync(kind, view, view, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The transports bound now (the configured ones are in the file).</summary>
    private static ConfigTable Transports(PjSharpServer server) => new(
        "Transports",
        ["Protocol", "Address", "Port"],
        [.. server.Transports.Select(t => (IReadOnlyList<string>)
        [
            t.Protocol.ToString().ToLowerInvariant(),
            t.LocalEndPoint.Address.ToString(),
            t.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture),
        ])]);

    private static ConfigTable Calls(Sessions.SessionService? sessions) => new(
        "Calls",
        ["Call-ID", "Direction", "Endpoint", "State", "Target", "Remote"],
        sessions == null ? [] : [.. sessions.Sessions.Select(s => (IReadOnlyList<string>)
        [
            s.CallId, s.Direction.ToString(), s.Endpoint.Id, s.State.ToString(), s.Target.Length == 0 ? "-" : s.Target,
            s.RemoteUri.Length == 0 ? "-" : s.RemoteUri,
        ])]);

    private static ConfigTable Blocked(PjSharpServer server) => new(
        "Blocked",
        ["Source", "Reason", "Until"],
        [.. server.FloodProtection.Blocked().Select(b => (IReadOnlyList<string>)
        [
            b.Source.ToString(), b.Reason, b.Until.ToString("u", CultureInfo.InvariantCulture),
        ])]);
}
