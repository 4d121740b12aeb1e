using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PjSharp.DataAccess.Internal;

namespace PjSharp.DataAccess.PostgreSql;

/// <summary>Settings of a <see cref="PostgreSqlBackend"/>.</summary>
public sealed class PostgreSqlBackendOptions
{
    /// <summary>Npgsql connection string, e.g. <c>Host=127.0.0.1;Username=pjsharp;Password=...;Database=pjsharp</c>.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>The schema holding PjSharp's tables; created when missing.</summary>
    public string Schema { get; set; } = "public";

    /// <summary>Listen for other nodes' changes (LISTEN/NOTIFY) and raise them as <see cref="IObjectBackend.Changed"/>.</summary>
    public bool ListenForChanges { get; set; } = true;

    /// <summary>This node's id: its own notifications are ignored. Unique per process by default.</summary>
    public string NodeId { get; set; } = Guid.NewGuid().ToString("N");

    /// <summary>Wait before reconnecting a lost listener.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Logs of the backend.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>Schema version to migrate to (tests of migrations); the latest by default.</summary>
    internal int TargetSchemaVersion { get; set; } = SqlObjectBackend.LatestSchemaVersion;
}

/// <summary>
/// Every object type in a PostgreSQL database shared by several nodes (Asterisk's realtime). Each write sends a
/// notification in its transaction; the other nodes' backends receive it and raise <see cref="IObjectBackend.Changed"/>,
/// so their stores invalidate caches and tell observers. After a lost connection, a reload of every type is raised,
/// since notifications sent meanwhile are gone.
/// </summary>
public sealed class PostgreSqlBackend : SqlObjectBackend, ILeaseBackend
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgreSqlBackendOptions _options;
    private readonly string _schema;
    private readonly string _channel;
    private readonly string _leases;
    private readonly CancellationTokenSource _stop = new();
    private Task? _listener;

    private PostgreSqlBackend(PostgreSqlBackendOptions options, NpgsqlDataSource dataSource, ILogger logger, string displayName)
        : base($"postgresql ({displayName}, schema {options.Schema})", logger, QuoteIdentifier(options.Schema) + ".")
    {
        _options = options;
        _dataSource = dataSource;
        _schema = options.Schema;
        _channel = ChannelName(options.Schema);
        _leases = QuoteIdentifier(options.Schema) + ".pjsharp_leases";
    }

    /// <summary>The notification channel of this schema.</summary>
    public string Channel => _channel;

    /// <summary>This node's id, sent with every notification.</summary>
    public string NodeId => _options.NodeId;

    /// <summary>Connects, creates or migrates the schema, and starts listening for other nodes' changes.</summary>
    public static async Task<PostgreSqlBackend> OpenAsync(PostgreSqlBackendOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.ConnectionString);
        ArgumentException.ThrowIfNullOrEmpty(options.Schema);
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        var display = $"{builder.Host}:{builder.Port}/{builder.Database}";
        var logger = options.LoggerFactory?.CreateLogger<PostgreSqlBackend>() ?? (ILogger)NullLogger.Instance;
        var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        var backend = new PostgreSqlBackend(options, dataSource, logger, display);
        try
        {
            await backend.MigrateAsync(options.TargetSchemaVersion, cancellationToken).ConfigureAwait(false);
            if (options.ListenForChanges)
                await backend.StartListeningAsync(builder, cancellationToken).ConfigureAwait(false);
            return backend;
        }
        catch
        {
            await backend.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc/>
    protected override string KeyColumnType => "TEXT COLLATE \"C\"";

    /// <inheritdoc/>
    protected override string IndexedValue(string column) => $"left({column}, 256)";

    /// <inheritdoc/>
    protected override bool IsUnavailableError(Exception exception) => exception switch
    {
        // Connection exceptions (08), shutdown and startup (57P), full disk or memory (53), a read-only server (25006).
        PostgresException postgres => postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
            || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal)
            || postgres.SqlState.StartsWith("53", StringComparison.Ordinal)
            || postgres.SqlState == "25006",
        // Anything else Npgsql raises is the connection's: refused, reset, timed out.
        NpgsqlException => true,
        _ => base.IsUnavailableError(exception),
    };

    /// <inheritdoc/>
    public ValueTask<bool> TryAcquireLeaseAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        return GuardAsync(async () =>
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            // The server's clock decides who holds the lease: the nodes' clocks may differ.
            await using var command = Command(connection, null,
                $"INSERT INTO {_leases} AS l (name, holder, expires_at) VALUES (@name, @holder, clock_timestamp() + @duration) " +
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at " +
                "WHERE l.holder = excluded.holder OR l.expires_at < clock_timestamp() RETURNING holder");
            AddParameter(command, "name", name);
            AddParameter(command, "holder", holder);
            AddParameter(command, "duration", duration);
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string taken
                && string.Equals(taken, holder, StringComparison.Ordinal);
        }, write: true);
    }

    /// <inheritdoc/>
    protected override async ValueTask<DbConnection> OpenConnectionAsync(bool forWrite, CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    protected override async ValueTask LockSchemaAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        await using (var command = Command(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext(@key))"))
        {
            AddParameter(command, "key", "pjsharp_schema:" + _schema);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await ExecuteAsync(connection, transaction, $"CREATE SCHEMA IF NOT EXISTS {QuoteIdentifier(_schema)}", cancellationToken).ConfigureAwait(false);
        // Outside the versioned schema: leases are state of the running nodes, not stored objects.
        await ExecuteAsync(connection, transaction,
            $"CREATE TABLE IF NOT EXISTS {_leases} (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)",
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override async ValueTask OnCommittingAsync(DbConnection connection, DbTransaction transaction, ChangeKind kind, ObjectType type, string id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(type);
        // Delivered by the server at commit, to every listener of the channel (ours is filtered out by node id).
        await using var command = Command(connection, transaction, "SELECT pg_notify(@channel, @payload)");
        AddParameter(command, "channel", _channel);
        AddParameter(command, "payload", string.Join('\t', _options.NodeId, KindCode(kind), type.Name, id));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask OnCommittingAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<(ChangeKind Kind, ObjectType Type, string Id)> changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        // One statement for the whole batch: unnest yields the array in order, and the server delivers them at commit.
        await using var command = Command(connection, transaction, "SELECT pg_notify(@channel, payload) FROM unnest(@payloads) AS payload");
        AddParameter(command, "channel", _channel);
        AddParameter(command, "payloads", changes.Select(c => string.Join('\t', _options.NodeId, KindCode(c.Kind), c.Type.Name, c.Id)).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string KindCode(ChangeKind kind) => kind switch
    {
        ChangeKind.Created => "C",
        ChangeKind.Updated => "U",
        _ => "D",
    };

    private async Task StartListeningAsync(NpgsqlConnectionStringBuilder builder, CancellationToken cancellationToken)
    {
        // A connection of its own, outside the pool: returning a pooled connection would UNLISTEN it.
        var listen = new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Pooling = false, KeepAlive = 15 };
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _listener = Task.Run(() => ListenLoopAsync(listen.ConnectionString, started, _stop.Token), CancellationToken.None);
        await started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task ListenLoopAsync(string connectionString, TaskCompletionSource started, CancellationToken stop)
    {
        var reconnecting = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(stop).ConfigureAwait(false);
                connection.Notification += OnNotification;
                await using (var command = connection.CreateCommand())
                {
                    command.CommandText = "LISTEN " + QuoteIdentifier(_channel);
                    await command.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }
                Log.ListenerStarted(Logger, Name, _channel);
                if (reconnecting)
                    OnChanged(new BackendChangedEventArgs([], ObjectTypes.All));
                reconnecting = false;
                started.TrySetResult();
                while (true)
                    await connection.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception error) when (error is NpgsqlException or IOException or TimeoutException or InvalidOperationException)
            {
                if (!started.Task.IsCompleted)
                {
                    started.TrySetException(error);
                    return;
                }
                // Once per outage: a database that stays away would otherwise log every reconnect attempt.
                if (!reconnecting)
                    Log.ListenerFailed(Logger, error, Name);
                reconnecting = true;
                try
                {
                    await Task.Delay(_options.ReconnectDelay, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        started.TrySetCanceled(CancellationToken.None);
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        var parts = e.Payload.Split('\t');
        if (parts.Length != 4 || ObjectTypes.Find(parts[2]) is not { } type)
        {
            Log.BadNotification(Logger, Name, e.Payload);
            return;
        }
        if (string.Equals(parts[0], _options.NodeId, StringComparison.Ordinal))
            return;
        var kind = parts[1] switch
        {
            "C" => ChangeKind.Created,
            "U" => ChangeKind.Updated,
            _ => ChangeKind.Deleted,
        };
        OnChanged(new BackendChangedEventArgs([new ObjectChange(type, parts[3], kind, null, ChangeOrigin.Remote)], []));
    }

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>One channel per schema, so that separate installations on one server do not hear each other.</summary>
    private static string ChannelName(string schema)
    {
        var name = "pjsharp_" + schema;
        if (Encoding.UTF8.GetByteCount(name) <= 63)
            return name;
        return "pjsharp_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(schema)).AsSpan(0, 16));
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_listener is not null)
        {
            try
            {
                await _listener.ConfigureAwait(false);
            }
            catch (Exception error) when (error is OperationCanceledException or NpgsqlException)
            {
            }
        }
        _stop.Dispose();
        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }
}
