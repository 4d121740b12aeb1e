using System.Data.Common;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using PjSharp.DataAccess.Internal;

namespace PjSharp.DataAccess;

/// <summary>
/// The schema and queries shared by the SQL backends (SQLite, PostgreSQL). One row per object in
/// <c>pjsharp_objects</c> (type, id, revision) and one row per <c>name=value</c> line in <c>pjsharp_fields</c>
/// (type, id, seq, field, value), indexed by (type, field, value) for retrieve-by-field. The schema is versioned in
/// <c>pjsharp_schema</c> and migrated forward when the backend opens.
/// </summary>
public abstract class SqlObjectBackend : IObjectBackend
{
    /// <summary>The schema version this code writes.</summary>
    public const int LatestSchemaVersion = 2;

    private readonly string _objects;
    private readonly string _fields;
    private readonly string _schema;

    /// <summary>Creates the backend; <paramref name="tablePrefix"/> qualifies table names (a PostgreSQL schema, <c>"s".</c>).</summary>
    protected SqlObjectBackend(string name, ILogger logger, string tablePrefix = "")
    {
        ArgumentNullException.ThrowIfNull(tablePrefix);
        Name = name;
        Logger = logger;
        _objects = tablePrefix + "pjsharp_objects";
        _fields = tablePrefix + "pjsharp_fields";
        _schema = tablePrefix + "pjsharp_schema";
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <summary>The schema version of the database after opening.</summary>
    public int SchemaVersion { get; protected set; }

    /// <summary>Where the backend logs.</summary>
    protected ILogger Logger { get; }

    // Per kind (reads, writes): 0 while the database serves it; the tick count of the first failure while it does not.
    // Kept apart because a read-only or full disk still serves reads: only a write ends a write outage.
    private readonly long[] _unavailableSince = new long[2];

    /// <summary>False from a failure that says the database cannot be reached, read or written until that works again.</summary>
    public bool IsAvailable => Interlocked.Read(ref _unavailableSince[0]) == 0 && Interlocked.Read(ref _unavailableSince[1]) == 0;

    /// <summary>
    /// Whether <paramref name="exception"/> says the database cannot serve now (unreachable, restarting, disk full, read-only)
    /// rather than that the request itself was wrong; such errors become <see cref="BackendUnavailableException"/>.
    /// </summary>
    protected virtual bool IsUnavailableError(Exception exception) =>
        exception is TimeoutException or IOException or System.Net.Sockets.SocketException;

    /// <summary>Called for each failure <see cref="IsUnavailableError"/> accepted (a backend may reconnect next time).</summary>
    protected virtual void OnUnavailable(Exception exception)
    {
    }

    /// <summary>
    /// Runs one database operation (a read, or a <paramref name="write"/>): its failure for want of the database is
    /// logged once per outage and thrown as <see cref="BackendUnavailableException"/>; the first success after ends the outage.
    /// </summary>
    protected async ValueTask<T> GuardAsync<T>(Func<ValueTask<T>> operation, bool write)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var kind = write ? 1 : 0;
        T result;
        try
        {
            result = await operation().ConfigureAwait(false);
        }
        catch (Exception error) when (error is not BackendUnavailableException && IsUnavailableError(error))
        {
            OnUnavailable(error);
            if (Interlocked.CompareExchange(ref _unavailableSince[kind], Math.Max(1, Environment.TickCount64), 0) == 0)
                Log.DatabaseUnavailable(Logger, Name, write ? "written" : "read", error.Message);
            throw BackendUnavailableException.For(this, error);
        }
        var since = Interlocked.Read(ref _unavailableSince[kind]);
        if (since != 0 && Interlocked.CompareExchange(ref _unavailableSince[kind], 0, since) == since)
            Log.DatabaseAvailable(Logger, Name, write ? "written" : "read", (Environment.TickCount64 - since) / 1000.0);
        return result;
    }

    /// <inheritdoc/>
    public event EventHandler<BackendChangedEventArgs>? Changed;

    /// <summary>Raises <see cref="Changed"/> for changes made by other processes.</summary>
    protected void OnChanged(BackendChangedEventArgs args) => Changed?.Invoke(this, args);

    /// <inheritdoc/>
    public bool Supports(ObjectType type) => true;

    /// <summary>The column type of ids, type and field names (binary-ordered text).</summary>
    protected abstract string KeyColumnType { get; }

    /// <summary>The indexed expression over the value column (PostgreSQL indexes a bounded prefix).</summary>
    protected abstract string IndexedValue(string column);

    /// <summary>An open connection; for writes, one the caller may hold alone until <see cref="ReleaseConnectionAsync"/>.</summary>
    protected abstract ValueTask<DbConnection> OpenConnectionAsync(bool forWrite, CancellationToken cancellationToken);

    /// <summary>Gives back a connection from <see cref="OpenConnectionAsync"/>.</summary>
    protected virtual ValueTask ReleaseConnectionAsync(DbConnection connection, bool forWrite)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return connection.DisposeAsync();
    }

    /// <summary>Serialises migrations of several processes (an advisory lock); the transaction is already open.</summary>
    protected abstract ValueTask LockSchemaAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken);

    /// <summary>Runs inside a write's transaction just before it commits (PostgreSQL queues its notification here).</summary>
    protected virtual ValueTask OnCommittingAsync(DbConnection connection, DbTransaction transaction, ChangeKind kind, ObjectType type, string id, CancellationToken cancellationToken) =>
        ValueTask.CompletedTask;

    /// <summary>
    /// Runs inside a batch's transaction just before it commits, with every change the batch made; by default
    /// <see cref="OnCommittingAsync(DbConnection, DbTransaction, ChangeKind, ObjectType, string, CancellationToken)"/> for each.
    /// </summary>
    protected virtual async ValueTask OnCommittingAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<(ChangeKind Kind, ObjectType Type, string Id)> changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var (kind, type, id) in changes)
            await OnCommittingAsync(connection, transaction, kind, type, id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The schema version recorded in the database, read without a write lock; 0 when there is none.</summary>
    protected async Task<int> ReadSchemaVersionAsync(CancellationToken cancellationToken = default)
    {
        var connection = await OpenConnectionAsync(forWrite: false, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = Command(connection, null, $"SELECT MAX(version) FROM {_schema}");
            var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return value is null or DBNull ? 0 : Convert.ToInt32(value, CultureInfo.InvariantCulture);
        }
        catch (DbException)
        {
            return 0;
        }
        finally
        {
            await ReleaseConnectionAsync(connection, forWrite: false).ConfigureAwait(false);
        }
    }

    /// <summary>Creates or upgrades the schema to <paramref name="targetVersion"/> (the latest by default).</summary>
    protected async Task MigrateAsync(int targetVersion = LatestSchemaVersion, CancellationToken cancellationToken = default)
    {
        if (targetVersion is < 1 or > LatestSchemaVersion)
            throw new ArgumentOutOfRangeException(nameof(targetVersion));
        var connection = await OpenConnectionAsync(forWrite: true, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await LockSchemaAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, $"CREATE TABLE IF NOT EXISTS {_schema} (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)", cancellationToken).ConfigureAwait(false);
            var current = 0;
            await using (var command = Command(connection, transaction, $"SELECT MAX(version) FROM {_schema}"))
            {
                var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                if (value is not null and not DBNull)
                    current = Convert.ToInt32(value, CultureInfo.InvariantCulture);
            }
            if (current > LatestSchemaVersion)
                throw new InvalidOperationException($"{Name}: database schema version {current} is newer than this PjSharp supports ({LatestSchemaVersion}); upgrade PjSharp");
            for (var version = current + 1; version <= targetVersion; version++)
            {
                foreach (var statement in Migration(version))
                    await ExecuteAsync(connection, transaction, statement, cancellationToken).ConfigureAwait(false);
                await using var record = Command(connection, transaction, $"INSERT INTO {_schema} (version, applied_at) VALUES (@version, @now)");
                AddParameter(record, "version", version);
                AddParameter(record, "now", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            SchemaVersion = Math.Max(current, targetVersion);
            if (SchemaVersion != current)
                Log.SchemaMigrated(Logger, Name, current, SchemaVersion);
        }
        finally
        {
            await ReleaseConnectionAsync(connection, forWrite: true).ConfigureAwait(false);
        }
    }

    private string[] Migration(int version) => version switch
    {
        1 =>
        [
            $"""
            CREATE TABLE {_objects} (
                type {KeyColumnType} NOT NULL,
                id {KeyColumnType} NOT NULL,
                revision BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (type, id))
            """,
            $"""
            CREATE TABLE {_fields} (
                type {KeyColumnType} NOT NULL,
                id {KeyColumnType} NOT NULL,
                seq INTEGER NOT NULL,
                field {KeyColumnType} NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (type, id, seq))
            """,
        ],
        2 => [$"CREATE INDEX pjsharp_fields_by_value ON {_fields} (type, field, {IndexedValue("value")})"],
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    /// <inheritdoc/>
    public async ValueTask<SipObject?> RetrieveAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(id);
        var found = await QueryAsync(type, "o.id = @id", command => AddParameter(command, "id", id), cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveByFieldAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(field);
        ArgumentNullException.ThrowIfNull(value);
        var filter = $"o.id IN (SELECT m.id FROM {_fields} m WHERE m.type = @type AND m.field = @field AND {IndexedValue("m.value")} = {IndexedValue("@value")} AND m.value = @value)";
        // Fields that hold their default are not stored: asking for the default finds those objects too.
        var option = type.FindOption(field);
        if (option != null && type.GetFieldValues(type.CreateDefault("default"), option.Name).Contains(value, StringComparer.Ordinal))
            filter = $"({filter} OR o.id NOT IN (SELECT m.id FROM {_fields} m WHERE m.type = @type AND m.field = @field))";
        return QueryAsync(type, filter, command =>
        {
            AddParameter(command, "field", field);
            AddParameter(command, "value", value);
        }, cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<SipObject>> RetrieveByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(idPrefix);
        if (idPrefix.Length == 0)
            return await RetrieveAllAsync(type, cancellationToken).ConfigureAwait(false);
        var upper = UpperBound(idPrefix);
        var filter = upper is null ? "o.id >= @low" : "o.id >= @low AND o.id < @high";
        var found = await QueryAsync(type, filter, command =>
        {
            AddParameter(command, "low", idPrefix);
            if (upper is not null)
                AddParameter(command, "high", upper);
        }, cancellationToken).ConfigureAwait(false);
        return found.Where(o => o.Id.StartsWith(idPrefix, StringComparison.Ordinal)).ToList();
    }

    /// <summary>The smallest string above every string starting with <paramref name="prefix"/>, when one is easy to name.</summary>
    private static string? UpperBound(string prefix)
    {
        var last = prefix[^1];
        if (char.IsSurrogate(last) || last >= '\uFFFF' - 1)
            return null;
        return string.Concat(prefix.AsSpan(0, prefix.Length - 1), ((char)(last + 1)).ToString());
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<SipObject>> RetrieveAllAsync(ObjectType type, CancellationToken cancellationToken = default) =>
        QueryAsync(type, "1 = 1", _ => { }, cancellationToken);

    private ValueTask<IReadOnlyList<SipObject>> QueryAsync(ObjectType type, string filter, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(type);
        cancellationToken.ThrowIfCancellationRequested();
        return GuardAsync(() => QueryCoreAsync(type, filter, bind, cancellationToken), write: false);
    }

    private async ValueTask<IReadOnlyList<SipObject>> QueryCoreAsync(ObjectType type, string filter, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        var connection = await OpenConnectionAsync(forWrite: false, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = Command(connection, null,
                $"SELECT o.id, f.field, f.value FROM {_objects} o LEFT JOIN {_fields} f ON f.type = o.type AND f.id = o.id WHERE o.type = @type AND {filter} ORDER BY o.id, f.seq");
            AddParameter(command, "type", type.Name);
            bind(command);
            var results = new List<SipObject>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            string? currentId = null;
            var fields = new List<KeyValuePair<string, string>>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = reader.GetString(0);
                if (currentId is not null && !string.Equals(id, currentId, StringComparison.Ordinal))
                {
                    AddBuilt(results, type, currentId, fields);
                    fields.Clear();
                }
                currentId = id;
                if (!await reader.IsDBNullAsync(1, cancellationToken).ConfigureAwait(false))
                    fields.Add(new(reader.GetString(1), reader.GetString(2)));
            }
            if (currentId is not null)
                AddBuilt(results, type, currentId, fields);
            results.Sort(static (a, b) => string.CompareOrdinal(a.Id, b.Id));
            return results;
        }
        finally
        {
            await ReleaseConnectionAsync(connection, forWrite: false).ConfigureAwait(false);
        }
    }

    private void AddBuilt(List<SipObject> results, ObjectType type, string id, List<KeyValuePair<string, string>> fields)
    {
        try
        {
            results.Add(type.FromFields(id, fields, Name));
        }
        catch (ConfigurationException error)
        {
            // A row written by another version may no longer load; skip it rather than fail every query.
            Log.StoredObjectInvalid(Logger, Name, type.Name, id, error.Message);
        }
    }

    /// <inheritdoc/>
    public async ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        await WriteAsync(value.ObjectType, value.Id, async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction,
                $"INSERT INTO {_objects} (type, id, revision, updated_at) VALUES (@type, @id, 1, @now) ON CONFLICT (type, id) DO NOTHING");
            BindKey(command, value.ObjectType, value.Id);
            if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                throw DuplicateObjectException.For(this, value.ObjectType, value.Id);
            await InsertFieldsAsync(connection, transaction, value, cancellationToken).ConfigureAwait(false);
            return ChangeKind.Created;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        await WriteAsync(value.ObjectType, value.Id, async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction,
                $"UPDATE {_objects} SET revision = revision + 1, updated_at = @now WHERE type = @type AND id = @id");
            BindKey(command, value.ObjectType, value.Id);
            if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                throw ObjectNotFoundException.For(this, value.ObjectType, value.Id);
            await DeleteFieldsAsync(connection, transaction, value.ObjectType, value.Id, cancellationToken).ConfigureAwait(false);
            await InsertFieldsAsync(connection, transaction, value, cancellationToken).ConfigureAwait(false);
            return ChangeKind.Updated;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var kind = await WriteAsync(value.ObjectType, value.Id, (connection, transaction) => UpsertCoreAsync(connection, transaction, value, cancellationToken), cancellationToken).ConfigureAwait(false);
        return kind == ChangeKind.Created;
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(id);
        var kind = await WriteAsync(type, id, (connection, transaction) => DeleteCoreAsync(connection, transaction, type, id, cancellationToken), cancellationToken).ConfigureAwait(false);
        return kind == ChangeKind.Deleted;
    }

    /// <summary>Applies every write in one transaction: one commit, and so one sync to disk, for the whole batch.</summary>
    public ValueTask<IReadOnlyList<ChangeKind?>> WriteBatchAsync(IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken = default)
    {
        ObjectWrites.Validate(writes);
        cancellationToken.ThrowIfCancellationRequested();
        if (writes.Count == 0)
            return ValueTask.FromResult<IReadOnlyList<ChangeKind?>>([]);
        return GuardAsync(() => WriteBatchCoreAsync(writes, cancellationToken), write: true);
    }

    private async ValueTask<IReadOnlyList<ChangeKind?>> WriteBatchCoreAsync(IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken)
    {
        var connection = await OpenConnectionAsync(forWrite: true, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            IReadOnlyList<ChangeKind?> results;
            if (connection.CanCreateBatch)
            {
                results = await WritePipelinedAsync(connection, transaction, writes, cancellationToken).ConfigureAwait(false);
                var changes = new List<(ChangeKind Kind, ObjectType Type, string Id)>(writes.Count);
                for (var i = 0; i < writes.Count; i++)
                {
                    if (results[i] is { } happened)
                        changes.Add((happened, writes[i].Type, writes[i].Id));
                }
                if (changes.Count > 0)
                    await OnCommittingAsync(connection, transaction, changes, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var sequential = new ChangeKind?[writes.Count];
                for (var i = 0; i < writes.Count; i++)
                {
                    var write = writes[i];
                    sequential[i] = write.Kind == ObjectWriteKind.Upsert
                        ? await UpsertCoreAsync(connection, transaction, write.Value!, cancellationToken).ConfigureAwait(false)
                        : await DeleteCoreAsync(connection, transaction, write.Type, write.Id, cancellationToken).ConfigureAwait(false);
                    if (sequential[i] is { } happened)
                        await OnCommittingAsync(connection, transaction, happened, write.Type, write.Id, cancellationToken).ConfigureAwait(false);
                }
                results = sequential;
            }
            // Past this point the writes are made; cancelling now would only lie about them.
            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            return results;
        }
        finally
        {
            await ReleaseConnectionAsync(connection, forWrite: true).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The whole batch as one round trip to a server database (a <see cref="DbBatch"/>): statement by
    /// statement a contact write costs four round trips, and the wire, not the server, sets the rate.
    /// Each upsert and delete returns a row (its index in the batch, and the revision or whether a row went).
    /// </summary>
    private async Task<IReadOnlyList<ChangeKind?>> WritePipelinedAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken)
    {
        await using var batch = connection.CreateBatch();
        batch.Transaction = transaction;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            var index = i.ToString(CultureInfo.InvariantCulture);
            if (write.Kind == ObjectWriteKind.Upsert)
            {
                var value = write.Value!;
                var upsert = AddBatchCommand(batch,
                    $"INSERT INTO {_objects} AS o (type, id, revision, updated_at) VALUES (@type, @id, 1, @now) " +
                    $"ON CONFLICT (type, id) DO UPDATE SET revision = o.revision + 1, updated_at = excluded.updated_at RETURNING {index}, revision",
                    value.ObjectType, value.Id);
                AddBatchParameter(upsert, "now", now);
                AddBatchCommand(batch, $"DELETE FROM {_fields} WHERE type = @type AND id = @id", value.ObjectType, value.Id);
                var fields = value.ObjectType.ToFields(value, includeDefaults: false);
                if (fields.Count > 0)
                {
                    var insert = AddBatchCommand(batch, "", value.ObjectType, value.Id);
                    insert.CommandText = InsertFieldsSql(fields.Count);
                    for (var f = 0; f < fields.Count; f++)
                    {
                        AddBatchParameter(insert, "f" + f.ToString(CultureInfo.InvariantCulture), fields[f].Key);
                        AddBatchParameter(insert, "v" + f.ToString(CultureInfo.InvariantCulture), fields[f].Value);
                    }
                }
            }
            else
            {
                AddBatchCommand(batch, $"DELETE FROM {_fields} WHERE type = @type AND id = @id", write.Type, write.Id);
                AddBatchCommand(batch,
                    $"WITH gone AS (DELETE FROM {_objects} WHERE type = @type AND id = @id RETURNING 1) SELECT {index}, count(*) FROM gone",
                    write.Type, write.Id);
            }
        }

        var results = new ChangeKind?[writes.Count];
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        do
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var index = Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture);
                var figure = Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
                results[index] = writes[index].Kind == ObjectWriteKind.Upsert
                    ? figure == 1 ? ChangeKind.Created : ChangeKind.Updated
                    : figure == 0 ? null : ChangeKind.Deleted;
            }
        }
        while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        return results;
    }

    private static DbBatchCommand AddBatchCommand(DbBatch batch, string sql, ObjectType type, string id)
    {
        var command = batch.CreateBatchCommand();
#pragma warning disable CA2100 // Table names come from our own options; values are always parameters.
        command.CommandText = sql;
#pragma warning restore CA2100
        AddBatchParameter(command, "type", type.Name);
        AddBatchParameter(command, "id", id);
        batch.BatchCommands.Add(command);
        return command;
    }

    private static void AddBatchParameter(DbBatchCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private string InsertFieldsSql(int count)
    {
        var sql = new StringBuilder($"INSERT INTO {_fields} (type, id, seq, field, value) VALUES ");
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
                sql.Append(", ");
            sql.Append(CultureInfo.InvariantCulture, $"(@type, @id, {i}, @f{i}, @v{i})");
        }
        return sql.ToString();
    }

    private async Task<ChangeKind?> UpsertCoreAsync(DbConnection connection, DbTransaction transaction, SipObject value, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            $"INSERT INTO {_objects} AS o (type, id, revision, updated_at) VALUES (@type, @id, 1, @now) " +
            "ON CONFLICT (type, id) DO UPDATE SET revision = o.revision + 1, updated_at = excluded.updated_at RETURNING revision");
        BindKey(command, value.ObjectType, value.Id);
        var revision = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        if (revision != 1)
            await DeleteFieldsAsync(connection, transaction, value.ObjectType, value.Id, cancellationToken).ConfigureAwait(false);
        await InsertFieldsAsync(connection, transaction, value, cancellationToken).ConfigureAwait(false);
        return revision == 1 ? ChangeKind.Created : ChangeKind.Updated;
    }

    private async Task<ChangeKind?> DeleteCoreAsync(DbConnection connection, DbTransaction transaction, ObjectType type, string id, CancellationToken cancellationToken)
    {
        await DeleteFieldsAsync(connection, transaction, type, id, cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, transaction, $"DELETE FROM {_objects} WHERE type = @type AND id = @id");
        BindKey(command, type, id);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0 ? null : ChangeKind.Deleted;
    }

    private ValueTask<ChangeKind?> WriteAsync(ObjectType type, string id, Func<DbConnection, DbTransaction, Task<ChangeKind?>> body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return GuardAsync(() => WriteCoreAsync(type, id, body, cancellationToken), write: true);
    }

    private async ValueTask<ChangeKind?> WriteCoreAsync(ObjectType type, string id, Func<DbConnection, DbTransaction, Task<ChangeKind?>> body, CancellationToken cancellationToken)
    {
        var connection = await OpenConnectionAsync(forWrite: true, cancellationToken).ConfigureAwait(false);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var kind = await body(connection, transaction).ConfigureAwait(false);
            if (kind is { } happened)
                await OnCommittingAsync(connection, transaction, happened, type, id, cancellationToken).ConfigureAwait(false);
            // Past this point the write is made; cancelling now would only lie about it.
            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            return kind;
        }
        finally
        {
            await ReleaseConnectionAsync(connection, forWrite: true).ConfigureAwait(false);
        }
    }

    private async ValueTask<ChangeKind> WriteAsync(ObjectType type, string id, Func<DbConnection, DbTransaction, Task<ChangeKind>> body, CancellationToken cancellationToken) =>
        (await WriteAsync(type, id, async (c, t) => (ChangeKind?)await body(c, t).ConfigureAwait(false), cancellationToken).ConfigureAwait(false))!.Value;

    private async Task InsertFieldsAsync(DbConnection connection, DbTransaction transaction, SipObject value, CancellationToken cancellationToken)
    {
        // Defaults are left out: a contact writes half the rows, and reading applies the rest.
        var fields = value.ObjectType.ToFields(value, includeDefaults: false);
        if (fields.Count == 0)
            return;
        await using var command = Command(connection, transaction, InsertFieldsSql(fields.Count));
        BindKey(command, value.ObjectType, value.Id);
        for (var i = 0; i < fields.Count; i++)
        {
            AddParameter(command, "f" + i.ToString(CultureInfo.InvariantCulture), fields[i].Key);
            AddParameter(command, "v" + i.ToString(CultureInfo.InvariantCulture), fields[i].Value);
        }
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task DeleteFieldsAsync(DbConnection connection, DbTransaction transaction, ObjectType type, string id, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, $"DELETE FROM {_fields} WHERE type = @type AND id = @id");
        AddParameter(command, "type", type.Name);
        AddParameter(command, "id", id);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void BindKey(DbCommand command, ObjectType type, string id)
    {
        AddParameter(command, "type", type.Name);
        AddParameter(command, "id", id);
        if (command.CommandText.Contains("@now", StringComparison.Ordinal))
            AddParameter(command, "now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    /// <summary>Runs one statement.</summary>
    protected static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A command on <paramref name="connection"/>.</summary>
    protected static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
#pragma warning disable CA2100 // Table names come from our own options; values are always parameters.
        command.CommandText = sql;
#pragma warning restore CA2100
        command.Transaction = transaction;
        return command;
    }

    /// <summary>Adds a named parameter.</summary>
    protected static void AddParameter(DbCommand command, string name, object value)
    {
        ArgumentNullException.ThrowIfNull(command);
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    /// <inheritdoc/>
    public abstract ValueTask DisposeAsync();
}
