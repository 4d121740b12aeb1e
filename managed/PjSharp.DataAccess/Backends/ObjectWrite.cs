namespace PjSharp.DataAccess;

/// <summary>What a write of a batch does.</summary>
public enum ObjectWriteKind
{
    /// <summary>Create or replace the object.</summary>
    Upsert,
    /// <summary>Remove the object if it exists.</summary>
    Delete,
}

/// <summary>
/// One write of a batch (<see cref="IObjectBackend.WriteBatchAsync"/>, <see cref="ObjectStore.WriteBatchAsync"/>):
/// an upsert of an object, or a delete by id. Create one with <see cref="Upsert"/> or <see cref="Delete(SipObject)"/>.
/// </summary>
public readonly record struct ObjectWrite
{
    private ObjectWrite(ObjectWriteKind kind, ObjectType type, string id, SipObject? value)
    {
        Kind = kind;
        Type = type;
        Id = id;
        Value = value;
    }

    /// <summary>Upsert or delete.</summary>
    public ObjectWriteKind Kind { get; }

    /// <summary>The object's type.</summary>
    public ObjectType Type { get; }

    /// <summary>The object's id.</summary>
    public string Id { get; }

    /// <summary>The object to store; for a delete, the object being removed when the caller knows it (observers receive it), else null.</summary>
    public SipObject? Value { get; }

    /// <summary>Creates or replaces <paramref name="value"/>.</summary>
    public static ObjectWrite Upsert(SipObject value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(ObjectWriteKind.Upsert, value.ObjectType, value.Id, value);
    }

    /// <summary>Removes <paramref name="value"/> (by its id); observers of the delete receive it.</summary>
    public static ObjectWrite Delete(SipObject value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(ObjectWriteKind.Delete, value.ObjectType, value.Id, value);
    }

    /// <summary>Removes the object of <paramref name="type"/> with <paramref name="id"/>.</summary>
    public static ObjectWrite Delete(ObjectType type, string id)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentException.ThrowIfNullOrEmpty(id);
        return new(ObjectWriteKind.Delete, type, id, null);
    }

    /// <summary>Throws when the write was not made by a factory method (a <c>default</c> value).</summary>
    internal void Validate()
    {
        if (Type is null || Id is null || (Kind == ObjectWriteKind.Upsert && Value is null))
            throw new ArgumentException("an ObjectWrite must come from ObjectWrite.Upsert or ObjectWrite.Delete, not default");
    }
}

/// <summary>Batch helpers shared by the backends.</summary>
internal static class ObjectWrites
{
    public static void Validate(IReadOnlyList<ObjectWrite> writes)
    {
        ArgumentNullException.ThrowIfNull(writes);
        for (var i = 0; i < writes.Count; i++)
            writes[i].Validate();
    }

    /// <summary>The fallback of backends without transactions: each write on its own, in order; stops at the first failure.</summary>
    public static async ValueTask<IReadOnlyList<ChangeKind?>> ApplySequentiallyAsync(IObjectBackend backend, IReadOnlyList<ObjectWrite> writes, CancellationToken cancellationToken)
    {
        Validate(writes);
        var results = new ChangeKind?[writes.Count];
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            results[i] = write.Kind == ObjectWriteKind.Upsert
                ? await backend.UpsertAsync(write.Value!, cancellationToken).ConfigureAwait(false) ? ChangeKind.Created : ChangeKind.Updated
                : await backend.DeleteAsync(write.Type, write.Id, cancellationToken).ConfigureAwait(false) ? ChangeKind.Deleted : null;
        }
        return results;
    }
}
