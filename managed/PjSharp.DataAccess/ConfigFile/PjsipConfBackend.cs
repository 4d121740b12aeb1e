using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PjSharp.DataAccess.ConfigFile;
using PjSharp.DataAccess.Internal;

namespace PjSharp.DataAccess;

/// <summary>
/// Objects read from a file in Asterisk's <c>pjsip.conf</c> syntax: read-only, reloadable (only what changed is
/// applied, and on errors the previous objects stay in force).
/// </summary>
public sealed class PjsipConfBackend : SnapshotBackend, IReloadableBackend
{
    private readonly string _path;
    private readonly string _displayPath;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _reloadGate = new(1, 1);

    private PjsipConfBackend(string path, string displayPath, ILogger logger)
        : base(displayPath)
    {
        _path = path;
        _displayPath = displayPath;
        _logger = logger;
    }

    /// <summary>The file read.</summary>
    public string FilePath => _path;

    /// <summary>Warnings of the load in force.</summary>
    public IReadOnlyList<ConfigDiagnostic> Warnings { get; private set; } = [];

    /// <summary>
    /// Reads <paramref name="path"/> and its includes. Throws <see cref="ConfigurationException"/> listing every error
    /// (<c>file:line: type 'id': message</c>) when there is one.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <param name="displayPath">How messages name the file; defaults to <paramref name="path"/>.</param>
    public static PjsipConfBackend Load(string path, ILogger? logger = null, string? displayPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var result = Check(path, displayPath);
        if (result.HasErrors)
            throw new ConfigurationException(result.Diagnostics);
        var backend = new PjsipConfBackend(path, displayPath ?? path, logger ?? NullLogger.Instance);
        backend.Initialize(result.Objects);
        backend.Warnings = result.Diagnostics;
        foreach (var warning in result.Diagnostics)
            Log.ConfigWarning(backend._logger, warning);
        Log.ConfigLoaded(backend._logger, backend.Name, result.Objects.Count, result.Diagnostics.Count);
        return backend;
    }

    /// <summary>Reads and validates <paramref name="path"/> without keeping it: every error and warning, and the objects.</summary>
    public static ConfigLoadResult Check(string path, string? displayPath = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bag = new DiagnosticBag();
        var objects = PjsipConfLoader.Load(path, displayPath ?? path, bag);
        return new ConfigLoadResult(objects, bag.Items);
    }

    /// <inheritdoc/>
    public async Task<ReloadResult> ReloadAsync(CancellationToken cancellationToken = default)
    {
        await _reloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await Task.Run(() => Check(_path, _displayPath), cancellationToken).ConfigureAwait(false);
            if (result.HasErrors)
            {
                var error = new ConfigurationException(result.Diagnostics);
                Log.ReloadFailed(_logger, Name, error.Message);
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
        finally
        {
            _reloadGate.Release();
        }
    }

    /// <inheritdoc/>
    public override ValueTask DisposeAsync()
    {
        _reloadGate.Dispose();
        return base.DisposeAsync();
    }
}

/// <summary>What reading a configuration source found.</summary>
/// <param name="Objects">The objects built (those with errors included, as far as they got).</param>
/// <param name="Diagnostics">Every error and warning, in file order.</param>
public sealed record ConfigLoadResult(IReadOnlyList<SipObject> Objects, IReadOnlyList<ConfigDiagnostic> Diagnostics)
{
    /// <summary>True when at least one diagnostic is an error.</summary>
    public bool HasErrors => Diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error);
}
