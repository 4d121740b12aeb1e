namespace PjSharp.DataAccess;

/// <summary>What happened to an object.</summary>
public enum ChangeKind
{
    /// <summary>It was created.</summary>
    Created,
    /// <summary>It was replaced by a new version.</summary>
    Updated,
    /// <summary>It was deleted.</summary>
    Deleted,
}

/// <summary>Where a change was made.</summary>
public enum ChangeOrigin
{
    /// <summary>Through this store.</summary>
    Local,
    /// <summary>By a reload of a file or configuration.</summary>
    Reload,
    /// <summary>By another process sharing the database (PostgreSQL notifications).</summary>
    Remote,
}

/// <summary>One change to one object.</summary>
/// <param name="Type">The object's type.</param>
/// <param name="Id">The object's id.</param>
/// <param name="Kind">Created, updated or deleted.</param>
/// <param name="Value">The new object (the old one for a delete); null when only the id is known (remote changes).</param>
/// <param name="Origin">Where the change was made.</param>
public sealed record ObjectChange(ObjectType Type, string Id, ChangeKind Kind, SipObject? Value, ChangeOrigin Origin);

/// <summary>
/// Learns of changes to objects of the types it observes (Asterisk's sorcery observer). Called after the change is
/// stored, on the writer's thread for local changes and on the backend's thread for the others; keep it quick.
/// An exception is logged and does not fail the write.
/// </summary>
public interface IObjectObserver
{
    /// <summary>An object was created.</summary>
    void Created(ObjectChange change)
    {
    }

    /// <summary>An object was updated.</summary>
    void Updated(ObjectChange change)
    {
    }

    /// <summary>An object was deleted.</summary>
    void Deleted(ObjectChange change)
    {
    }

    /// <summary>All objects of <paramref name="type"/> were reloaded; the individual changes came before.</summary>
    void Reloaded(ObjectType type)
    {
    }
}
