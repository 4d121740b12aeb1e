using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;
using PjSharp.DataAccess.Internal;

namespace PjSharp.DataAccess;

/// <summary>
/// Objects read from <see cref="IConfiguration"/> (appsettings.json, environment variables, ...), read-only.
/// The section holds one child per type, one grandchild per object id, and the options below it; an array value
/// stands for repeated lines:
/// <code>
/// "PjSip": {
///   "transport": { "udp": { "protocol": "udp", "bind": "0.0.0.0:5060" } },
///   "endpoint":  { "alice": { "aors": "alice", "auth": "alice", "allow": [ "!all", "ulaw", "alaw" ] } },
///   "aor":       { "alice": { "max_contacts": "1" } }
/// }
/// </code>
/// Messages name the configuration path (<c>PjSip:endpoint:alice:foo</c>), since configuration providers keep no line numbers.
/// With <paramref name="watch"/>, a provider reload (reloadOnChange) applies what changed.
/// </summary>
public sealed class ConfigurationBackend : SnapshotBackend, IReloadableBackend
{
    private readonly IConfiguration _section;
    private readonly ILogger _logger;
    private readonly IDisposable? _watch;
    private readonly Lock _reloadGate = new();

    private ConfigurationBackend(IConfiguration section, string name, ILogger logger, bool watch)
        : base(name)
    {
        _section = section;
        _logger = logger;
        if (watch)
            _watch = ChangeToken.OnChange(section.GetReloadToken, () => Reload());
    }

    /// <summary>Warnings of the load in force.</summary>
    public IReadOnlyList<ConfigDiagnostic> Warnings { get; private set; } = [];

    /// <summary>Loads the objects under <paramref name="section"/>; throws <see cref="ConfigurationException"/> listing every error.</summary>
    /// <param name="section">The section with one child per type.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <param name="watch">Apply changes when the configuration reloads.</param>
    public static ConfigurationBackend Load(IConfiguration section, ILogger? logger = null, bool watch = false)
    {
        ArgumentNullException.ThrowIfNull(section);
        var result = Check(section);
        if (result.HasErrors)
            throw new ConfigurationException(result.Diagnostics);
        var name = section is IConfigurationSection named ? $"configuration ({named.Path})" : "configuration";
        var backend = new ConfigurationBackend(section, name, logger ?? NullLogger.Instance, watch);
        backend.Initialize(result.Objects);
        backend.Warnings = result.Diagnostics;
        foreach (var warning in result.Diagnostics)
            Log.ConfigWarning(backend._logger, warning);
        Log.ConfigLoaded(backend._logger, name, result.Objects.Count, result.Diagnostics.Count);
        return backend;
    }

    /// <summary>Reads and validates <paramref name="section"/> without keeping it.</summary>
    public static ConfigLoadResult Check(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var bag = new DiagnosticBag();
        var objects = new List<SipObject>();
        var prefix = section is IConfigurationSection named ? named.Path + ":" : "";
        SipObject? global = null;
        foreach (var typeSection in section.GetChildren())
        {
            var typeLocation = new SourceLocation(prefix + typeSection.Key, 0);
            var type = ObjectTypes.Find(typeSection.Key);
            if (type is null)
            {
                bag.Error(typeLocation, null, null, typeSection.Key, $"unknown type '{typeSection.Key}'");
                continue;
            }
            if (type.IsDynamic)
            {
                bag.Error(typeLocation, type.Name, null, typeSection.Key, $"{type.Name} objects are written at run time and cannot be configured");
                continue;
            }
            foreach (var objectSection in typeSection.GetChildren())
            {
                var header = new SourceLocation(prefix + typeSection.Key + ":" + objectSection.Key, 0);
                var lines = new List<OptionAssignment>();
                foreach (var option in objectSection.GetChildren())
                {
                    var location = new SourceLocation(header.File + ":" + option.Key, 0);
                    if (option.Value is not null)
                    {
                        lines.Add(new OptionAssignment(option.Key, option.Value, location));
                        continue;
                    }
                    foreach (var item in option.GetChildren())
                    {
                        if (item.Value is null)
                            bag.Error(location, type.Name, objectSection.Key, option.Key, $"{option.Key}: expected a string or an array of strings");
                        else
                            lines.Add(new OptionAssignment(option.Key, item.Value, new SourceLocation(location.File + ":" + item.Key, 0)));
                    }
                }
                var built = type.Build(objectSection.Key, lines, header, bag);
                if (type == GlobalSettings.Type)
                {
                    if (global is not null)
                    {
                        bag.Error(header, type.Name, objectSection.Key, null, $"only one global object is allowed ('{global.Id}' is already defined)");
                        continue;
                    }
                    global = built;
                }
                objects.Add(built);
            }
        }
        return new ConfigLoadResult(objects, bag.Items);
    }

    /// <inheritdoc/>
    public Task<ReloadResult> ReloadAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Reload());
    }

    private ReloadResult Reload()
    {
        lock (_reloadGate)
        {
            var result = Check(_section);
            if (result.HasErrors)
            {
                Log.ReloadFailed(_logger, Name, new ConfigurationException(result.Diagnostics).Message);
                return new ReloadResult(Name, false, result.Diagnostics, []);
            }
            Warnings = result.Diagnostics;
            var changes = Replace(result.Objects);
            Log.Reloaded(_logger, Name,
                changes.Count(c => c.Kind == ChangeKind.Created),
                changes.Count(c => c.Kind == ChangeKind.Updated),
                changes.Count(c => c.Kind == ChangeKind.Deleted));
            return new ReloadResult(Name, true, result.Diagnostics, changes);
        }
    }

    /// <inheritdoc/>
    public override ValueTask DisposeAsync()
    {
        _watch?.Dispose();
        return base.DisposeAsync();
    }
}
