using PjSharp.DataAccess;

namespace PjSharp.Hosting.Admin;

/// <summary>The server's <see cref="ObjectStore"/> as a read-only backend, so the tables of <c>pjsharp show</c> read what the server reads.</summary>
internal sealed class StoreView(ObjectStore store) : IObjectBackend
{
    public string Name => "server";

    public bool IsReadOnly => true;

    public bool Supports(ObjectType type) => store.MappedTypes.Contains(type);

    public ValueTask<SipObject?> RetrieveAsync(ObjectType type, string id, CancellationToken cancellationToken = default) =>
        store.GetAsync(type, id, cancellationToken);

    public ValueTask<IReadOnlyList<SipObject>> RetrieveByFieldAsync(ObjectType type, string field, string value, CancellationToken cancellationToken = default) =>
        store.FindAsync(type, field, value, cancellationToken);

    public ValueTask<IReadOnlyList<SipObject>> RetrieveByPrefixAsync(ObjectType type, string idPrefix, CancellationToken cancellationToken = default) =>
        store.FindByPrefixAsync(type, idPrefix, cancellationToken);

    public ValueTask<IReadOnlyList<SipObject>> RetrieveAllAsync(ObjectType type, CancellationToken cancellationToken = default) =>
        store.GetAllAsync(type, cancellationToken);

    public ValueTask CreateAsync(SipObject value, CancellationToken cancellationToken = default) => throw ReadOnly();

    public ValueTask UpdateAsync(SipObject value, CancellationToken cancellationToken = default) => throw ReadOnly();

    public ValueTask<bool> UpsertAsync(SipObject value, CancellationToken cancellationToken = default) => throw ReadOnly();

    public ValueTask<bool> DeleteAsync(ObjectType type, string id, CancellationToken cancellationToken = default) => throw ReadOnly();

#pragma warning disable CS0067 // Nothing changes through a view.
    public event EventHandler<BackendChangedEventArgs>? Changed;
#pragma warning restore CS0067

    // The store belongs to the server.
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static ReadOnlyBackendException ReadOnly() => new("the admin endpoint only reads");
}
