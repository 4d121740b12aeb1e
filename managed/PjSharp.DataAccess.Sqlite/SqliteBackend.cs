using System.Data.Common;
using PjSharp.DataAccess.Internal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace PjSharp.DataAccess.Sqlite;

/// <summary>Settings of a <see cref="SqliteBackend"/>.</summary>
public sealed class SqliteBackendOptions
{
    /// <summary>The database file; created when missing.</summary>
    public string Path { get; set; } = "pjsharp.db";

    /// <summary>How long a statement waits for another process's lock before failing.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Fail instead of creating the file when it does not exist (for tools that only read).</summary>
    public bool MustExist { get; set; }

    /// <summary>Logs of the backend.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Schema version to migrate to (tests of migrations); the latest by default.</summary>
    internal int TargetSchemaVersion { get; set; } = SqlObjectBackend.LatestSchemaVersion;
}

/// <summary>
/// The embedded default store, in one SQLite file: WAL journal with <c>synchronous=FULL</c>, so a write is on disk
/// when its call returns. Writes go through one connection in turn; reads use pooled connections in parallel.
/// Changes made by other processes on the same file are not announced (use PostgreSQL for several nodes).
/// </summary>
public sealed class SqliteBackend : SqlObjectBackend
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private SqliteConnection? _writer;
    // Set when a write found the file read-only or unopenable: the next write opens a fresh connection, which sees a
    // file made writable again (a connection opened read-only stays so).
    private volatile bool _reopenWriter;

    private SqliteBackend(string path, string connectionString, ILogger logger)
        : base($"sqlite ({path})", logger)
    {
        FilePath = path;
        _connectionString = connectionString;
    }

    /// <summary>The database file.</summary>
    public string FilePath { get; }

    /// <summary>Opens (creating if needed) and migrates the database.</summary>
    public static async Task<SqliteBackend> OpenAsync(SqliteBackendOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.Path);
        if (options.MustExist && !File.Exists(options.Path))
            throw new FileNotFoundException($"SQLite database '{options.Path}' does not exist", options.Path);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = options.Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        };
        var logger = options.LoggerFactory?.CreateLogger<SqliteBackend>() ?? (ILogger)NullLogger.Instance;
        var backend = new SqliteBackend(options.Path, builder.ToString(), logger);
        try
        {
            backend._writer = new SqliteConnection(backend._connectionString);
            await backend._writer.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(backend._writer, null, "PRAGMA journal_mode=WAL", cancellationToken).ConfigureAwait(false);
            await ConfigureAsync(backend._writer, cancellationToken).ConfigureAwait(false);
            if (SQLitePCL.raw.sqlite3_db_readonly(backend._writer.Handle, "main") == 1)
            {
                // Reads work; writes fail as unavailable (503) until the file is writable again.
                var version = await backend.ReadSchemaVersionAsync(cancellationToken).ConfigureAwait(false);
                if (version != options.TargetSchemaVersion)
                    throw new BackendUnavailableException($"SQLite database '{options.Path}' is read-only and its schema (version {version}) needs migrating to {options.TargetSchemaVersion}: make it writable");
                backend.SchemaVersion = version;
                Log.OpenedReadOnly(logger, options.Path);
                backend._reopenWriter = true;
                return backend;
            }
            await backend.MigrateAsync(options.TargetSchemaVersion, cancellationToken).ConfigureAwait(false);
            return backend;
        }
        catch
        {
            await backend.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task ConfigureAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        // FULL makes each commit fsync the WAL: a write is durable when the call returns.
        await ExecuteAsync(connection, null, "PRAGMA synchronous=FULL", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, null, "PRAGMA foreign_keys=ON", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The journal mode and synchronous level in force on the write connection (for checks).</summary>
    public async Task<(string JournalMode, int Synchronous)> GetDurabilitySettingsAsync(CancellationToken cancellationToken = default)
    {
        var connection = (SqliteConnection)await OpenConnectionAsync(forWrite: true, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var journal = Command(connection, null, "PRAGMA journal_mode");
            var mode = Convert.ToString(await journal.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) ?? "";
            await using var sync = Command(connection, null, "PRAGMA synchronous");
            var level = Convert.ToInt32(await sync.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            return (mode, level);
        }
        finally
        {
            await ReleaseConnectionAsync(connection, forWrite: true).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    protected override string KeyColumnType => "TEXT";

    /// <inheritdoc/>
    protected override string IndexedValue(string column) => column;

    /// <inheritdoc/>
    protected override bool IsUnavailableError(Exception exception) =>
        exception is SqliteException
        {
            // BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN: the file cannot be written now; the request was fine.
            SqliteErrorCode: 5 or 6 or 8 or 10 or 13 or 14,
        } || base.IsUnavailableError(exception);

    /// <inheritdoc/>
    protected override void OnUnavailable(Exception exception)
    {
        if (exception is SqliteException { SqliteErrorCode: 8 or 14 })
            _reopenWriter = true;
    }

    /// <inheritdoc/>
    protected override async ValueTask<DbConnection> OpenConnectionAsync(bool forWrite, CancellationToken cancellationToken)
    {
        if (forWrite)
        {
            await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var writer = _writer ?? throw new ObjectDisposedException(nameof(SqliteBackend));
                if (_reopenWriter)
                {
                    // Out of the pool too: a pooled handle opened read-only would come back read-only.
                    await writer.DisposeAsync().ConfigureAwait(false);
                    SqliteConnection.ClearPool(writer);
                    var fresh = new SqliteConnection(_connectionString);
                    try
                    {
                        await fresh.OpenAsync(cancellationToken).ConfigureAwait(false);
                        await ConfigureAsync(fresh, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        await fresh.DisposeAsync().ConfigureAwait(false);
                        throw;
                    }
                    _reopenWriter = SQLitePCL.raw.sqlite3_db_readonly(fresh.Handle, "main") == 1;
                    _writer = writer = fresh;
                }
                return writer;
            }
            catch
            {
                _writeGate.Release();
                throw;
            }
        }
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    /// <inheritdoc/>
    protected override ValueTask ReleaseConnectionAsync(DbConnection connection, bool forWrite)
    {
        if (!forWrite)
            return base.ReleaseConnectionAsync(connection, forWrite);
        _writeGate.Release();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    protected override ValueTask LockSchemaAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask; // Microsoft.Data.Sqlite begins IMMEDIATE transactions: the write lock is already held.

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        await _writeGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_writer is not null)
            {
                await _writer.DisposeAsync().ConfigureAwait(false);
                _writer = null;
            }
        }
        finally
        {
            _writeGate.Release();
        }
        using var pooled = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(pooled);
    }
}
