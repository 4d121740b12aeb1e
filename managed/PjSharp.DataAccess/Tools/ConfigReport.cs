using System.Globalization;

namespace PjSharp.DataAccess.Tools;

/// <summary>A table for <c>pjsharp show</c>: a title, column names and rows of text.</summary>
public sealed record ConfigTable(string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>What <c>pjsharp check-config</c> prints and returns.</summary>
/// <param name="ExitCode">0 when the file loads, 1 when it has errors, 2 when it cannot be read at all.</param>
/// <param name="Diagnostics">Every error and warning, in file order.</param>
/// <param name="Lines">The text to print, one diagnostic per line and a summary last.</param>
public sealed record CheckConfigReport(int ExitCode, IReadOnlyList<ConfigDiagnostic> Diagnostics, IReadOnlyList<string> Lines);

/// <summary>What <c>pjsharp show</c> prints and returns.</summary>
/// <param name="ExitCode">0 on success, 1 for configuration errors, 2 for bad usage.</param>
/// <param name="Tables">The tables to print.</param>
/// <param name="Errors">Messages for standard error.</param>
public sealed record ShowReport(int ExitCode, IReadOnlyList<ConfigTable> Tables, IReadOnlyList<string> Errors);

/// <summary>The logic behind the <c>check-config</c> and <c>show</c> commands, without any console.</summary>
public static class ConfigReport
{
    /// <summary>Success.</summary>
    public const int ExitOk = 0;

    /// <summary>The configuration has errors.</summary>
    public const int ExitConfigErrors = 1;

    /// <summary>Bad arguments or an unreadable file.</summary>
    public const int ExitUsage = 2;

    /// <summary>What <c>show</c> accepts.</summary>
    public static IReadOnlyList<string> ShowKinds { get; } = ["endpoints", "aors", "auths", "transports", "identifies", "registrations", "contacts"];

    /// <summary>Reads <paramref name="path"/> and reports every error at once.</summary>
    public static CheckConfigReport Check(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var result = PjsipConfBackend.Check(path);
        var lines = result.Diagnostics.Select(d => d.ToString()).ToList();
        var errors = result.Diagnostics.Count(d => d.Severity == DiagnosticSeverity.Error);
        var warnings = result.Diagnostics.Count - errors;
        if (errors > 0)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{path}: {errors} error{Plural(errors)}, {warnings} warning{Plural(warnings)}"));
            var unreadable = result.Diagnostics.All(d => d.Severity != DiagnosticSeverity.Error || (d.Location.Line == 0 && d.Key is null && d.ObjectId is null));
            return new CheckConfigReport(unreadable && result.Objects.Count == 0 ? ExitUsage : ExitConfigErrors, result.Diagnostics, lines);
        }
        var counts = result.Objects.GroupBy(o => o.ObjectType)
            .OrderBy(g => ObjectTypes.All.ToList().IndexOf(g.Key))
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Count()} {g.Key.Name}{(g.Count() == 1 ? "" : "s")}"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"{path}: OK ({string.Join(", ", counts)}), {warnings} warning{Plural(warnings)}"));
        return new CheckConfigReport(ExitOk, result.Diagnostics, lines);
    }

    private static string Plural(int count) => count == 1 ? "" : "s";

    /// <summary>
    /// The table of <paramref name="kind"/> from <paramref name="configPath"/>, with objects and contacts of
    /// <paramref name="database"/> (read after the file) when given.
    /// </summary>
    public static async Task<ShowReport> ShowAsync(string kind, string configPath, IObjectBackend? database = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(configPath);
        var normalized = kind.Trim().ToLowerInvariant();
        if (!ShowKinds.Contains(normalized))
            return new ShowReport(ExitUsage, [], [$"unknown kind '{kind}': expected {string.Join(", ", ShowKinds)}"]);
        var check = PjsipConfBackend.Check(configPath);
        if (check.HasErrors)
        {
            var errors = check.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
            return new ShowReport(ExitConfigErrors, [], errors);
        }
        await using var file = PjsipConfBackend.Load(configPath);
        IObjectBackend source = database is null ? file : new BackendChain(file, database);
        try
        {
            return new ShowReport(ExitOk, [await TableAsync(normalized, source, database, cancellationToken).ConfigureAwait(false)], []);
        }
        finally
        {
            if (source is BackendChain chain)
                await chain.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The table of <paramref name="kind"/> (one of <see cref="ShowKinds"/>) read from <paramref name="source"/>;
    /// dynamic objects (contacts, their status, registration status) from <paramref name="database"/> when given.
    /// </summary>
    public static async Task<ConfigTable> TableAsync(string kind, IObjectBackend source, IObjectBackend? database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(source);
        return kind switch
        {
            "endpoints" => Endpoints(await AllAsync<Endpoint>(source, cancellationToken).ConfigureAwait(false)),
            "aors" => await AorsAsync(source, cancellationToken).ConfigureAwait(false),
            "auths" => Auths(await AllAsync<Auth>(source, cancellationToken).ConfigureAwait(false)),
            "transports" => Transports(await AllAsync<Transport>(source, cancellationToken).ConfigureAwait(false)),
            "identifies" => Identifies(await AllAsync<Identify>(source, cancellationToken).ConfigureAwait(false)),
            "registrations" => Registrations(
                await AllAsync<Registration>(source, cancellationToken).ConfigureAwait(false),
                database is null ? [] : await AllAsync<RegistrationStatus>(database, cancellationToken).ConfigureAwait(false)),
            "contacts" => await ContactsAsync(source, database, cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentException($"unknown kind '{kind}': expected {string.Join(", ", ShowKinds)}", nameof(kind)),
        };
    }

    private static async Task<List<T>> AllAsync<T>(IObjectBackend backend, CancellationToken cancellationToken) where T : SipObject, ISipObject<T>
    {
        if (!backend.Supports(T.Type))
            return [];
        return (await backend.RetrieveAllAsync(T.Type, cancellationToken).ConfigureAwait(false)).Cast<T>().ToList();
    }

    private static string OrDash(string text) => text.Length == 0 ? "-" : text;

    private static string OrDash<T>(ValueList<T> list) => list.IsEmpty ? "-" : list.ToString();

    private static ConfigTable Endpoints(List<Endpoint> endpoints) => new(
        "Endpoints",
        ["Endpoint", "Transport", "AORs", "Auth", "Context", "Codecs", "DTMF", "Identify by"],
        endpoints.Select(e => (IReadOnlyList<string>)
        [
            e.Id, OrDash(e.Transport), OrDash(e.Aors), OrDash(e.Auth), e.Context, OrDash(e.Allow),
            Endpoint.Type.GetFieldValues(e, "dtmf_mode").First(), Endpoint.Type.GetFieldValues(e, "identify_by").First(),
        ]).ToList());

    private static async Task<ConfigTable> AorsAsync(IObjectBackend source, CancellationToken cancellationToken)
    {
        var aors = await AllAsync<Aor>(source, cancellationToken).ConfigureAwait(false);
        var rows = new List<IReadOnlyList<string>>();
        foreach (var aor in aors)
        {
            var contacts = aor.Contacts.ToList();
            if (source.Supports(Contact.Type))
            {
                var dynamic = await source.RetrieveByPrefixAsync(Contact.Type, Contact.IdPrefix(aor.Id), cancellationToken).ConfigureAwait(false);
                contacts.AddRange(dynamic.Cast<Contact>().Select(c => c.Uri));
            }
            rows.Add(
            [
                aor.Id,
                aor.MaxContacts.ToString(CultureInfo.InvariantCulture),
                contacts.Count == 0 ? "-" : string.Join(", ", contacts),
                string.Create(CultureInfo.InvariantCulture, $"{aor.MinimumExpiration}/{aor.DefaultExpiration}/{aor.MaximumExpiration}"),
                aor.QualifyFrequency == 0 ? "off" : string.Create(CultureInfo.InvariantCulture, $"{aor.QualifyFrequency}s"),
            ]);
        }
        return new ConfigTable("AORs", ["AOR", "Max contacts", "Contacts", "Expiration min/default/max", "Qualify"], rows);
    }

    private static ConfigTable Auths(List<Auth> auths) => new(
        "Auths",
        ["Auth", "Type", "Username", "Realm"],
        auths.Select(a => (IReadOnlyList<string>)[a.Id, Auth.Type.GetFieldValues(a, "auth_type").First(), a.Username, OrDash(a.Realm)]).ToList());

    private static ConfigTable Transports(List<Transport> transports) => new(
        "Transports",
        ["Transport", "Protocol", "Bind", "External signaling", "TLS"],
        transports.Select(t => (IReadOnlyList<string>)
        [
            t.Id,
            Transport.Type.GetFieldValues(t, "protocol").First(),
            t.Bind is null ? "-" : NetworkText.FormatEndPoint(t.Bind),
            t.ExternalSignalingAddress.Length == 0 ? "-" : t.ExternalSignalingPort == 0 ? t.ExternalSignalingAddress : string.Create(CultureInfo.InvariantCulture, $"{t.ExternalSignalingAddress}:{t.ExternalSignalingPort}"),
            t.CertFile.Length == 0 ? "-" : $"cert {t.CertFile}{(t.VerifyClient ? ", verify client" : "")}",
        ]).ToList());

    private static ConfigTable Identifies(List<Identify> identifies) => new(
        "Identifies",
        ["Identify", "Endpoint", "Match", "Match header"],
        identifies.Select(i => (IReadOnlyList<string>)[i.Id, i.Endpoint, OrDash(Identify.Type.GetFieldValues(i, "match").First()), OrDash(i.MatchHeader)]).ToList());

    private static ConfigTable Registrations(List<Registration> registrations, List<RegistrationStatus> statuses)
    {
        // The status columns come from the registration_status objects the server writes; without a database they are dashes.
        var byId = statuses.ToDictionary(s => s.Id, StringComparer.Ordinal);
        return new ConfigTable(
            "Registrations",
            ["Registration", "Server URI", "Client URI", "Outbound auth", "Expiration", "Status", "Last code", "Expires", "Next attempt", "Retries"],
            registrations.Select(r =>
            {
                byId.TryGetValue(r.Id, out var status);
                return (IReadOnlyList<string>)
                [
                    r.Id, r.ServerUri, r.ClientUri, OrDash(r.OutboundAuth), r.Expiration.ToString(CultureInfo.InvariantCulture),
                    status is null ? "-" : RegistrationStatus.StateName(status.State),
                    status is null || status.LastStatusCode == 0 ? "-" : status.LastStatusCode.ToString(CultureInfo.InvariantCulture),
                    TimeOrDash(status?.ExpiresAt),
                    TimeOrDash(status?.NextAttempt),
                    status is null ? "-" : status.Retries.ToString(CultureInfo.InvariantCulture),
                ];
            }).ToList());
    }

    private static string TimeOrDash(DateTimeOffset? time) =>
        time is not { } value || value == DateTimeOffset.UnixEpoch ? "-" : value.ToString("u", CultureInfo.InvariantCulture);

    /// <summary>
    /// Registered contacts from the database and the permanent contacts of AORs that qualify them, each with
    /// what qualify last wrote (<c>contact_status</c>): Unknown until the first answer or timeout, "-" when not qualified.
    /// </summary>
    private static async Task<ConfigTable> ContactsAsync(IObjectBackend source, IObjectBackend? database, CancellationToken cancellationToken)
    {
        var contacts = new List<(Contact Contact, bool Permanent)>();
        foreach (var aor in await AllAsync<Aor>(source, cancellationToken).ConfigureAwait(false))
        {
            if (aor.QualifyFrequency == 0)
                continue;
            foreach (var uri in aor.Contacts)
                contacts.Add((new Contact(Contact.CreateId(aor.Id, uri)) { Uri = uri, Aor = aor.Id, QualifyFrequency = aor.QualifyFrequency }, true));
        }
        if (database != null)
            contacts.AddRange((await AllAsync<Contact>(database, cancellationToken).ConfigureAwait(false)).Select(c => (c, false)));
        var statuses = database != null && database.Supports(ContactStatus.Type)
            ? (await AllAsync<ContactStatus>(database, cancellationToken).ConfigureAwait(false)).ToDictionary(s => s.Id, StringComparer.Ordinal)
            : [];
        var rows = new List<IReadOnlyList<string>>();
        foreach (var (contact, permanent) in contacts)
        {
            var status = statuses.GetValueOrDefault(contact.Id);
            rows.Add(
            [
                contact.Id, contact.Aor, contact.Uri,
                permanent ? "permanent" : contact.ExpirationTime.ToString("u", CultureInfo.InvariantCulture),
                OrDash(contact.UserAgent),
                status is not null ? status.Status.ToString() : contact.QualifyFrequency > 0 ? nameof(ContactReachability.Unknown) : "-",
                status is { Status: ContactReachability.Reachable } ? Milliseconds(status.RoundTripMicroseconds) : "-",
            ]);
        }
        return new ConfigTable("Contacts", ["Contact", "AOR", "URI", "Expires", "User agent", "Status", "RTT"], rows);
    }

    private static string Milliseconds(ulong microseconds) =>
        string.Create(CultureInfo.InvariantCulture, $"{microseconds / 1000.0:0.###} ms");
}
