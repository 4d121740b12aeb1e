namespace PjSharp.DataAccess;

/// <summary>
/// A data-access object (Asterisk's sorcery object): an id unique within its type, and typed options.
/// Objects are immutable; change one with a <c>with</c> expression and write it back through the store.
/// </summary>
public abstract record SipObject
{
    private readonly string _id;

    /// <summary>Creates an object with the given id.</summary>
    protected SipObject(string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        _id = id;
    }

    /// <summary>The object's id, unique within its type (the section name in <c>pjsip.conf</c>).</summary>
    public string Id
    {
        get => _id;
        init
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value);
            _id = value;
        }
    }

    /// <summary>The object's type descriptor.</summary>
    public abstract ObjectType ObjectType { get; }
}

/// <summary>Lets generic code find the descriptor of an object type statically.</summary>
public interface ISipObject<TSelf> where TSelf : SipObject, ISipObject<TSelf>
{
    /// <summary>The descriptor of this object type.</summary>
    static abstract ObjectType<TSelf> Type { get; }
}
