using System.Collections.Concurrent;

namespace PjSharp.DataAccess.Tests.Support;

/// <summary>Keeps every notification, for assertions.</summary>
internal sealed class RecordingObserver : IObjectObserver
{
    public ConcurrentQueue<ObjectChange> Changes { get; } = new();

    public ConcurrentQueue<ObjectType> Reloads { get; } = new();

    public void Created(ObjectChange change) => Changes.Enqueue(change);

    public void Updated(ObjectChange change) => Changes.Enqueue(change);

    public void Deleted(ObjectChange change) => Changes.Enqueue(change);

    public void Reloaded(ObjectType type) => Reloads.Enqueue(type);

    public async Task<bool> WaitForAsync(Func<ObjectChange, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Changes.Any(match))
                return true;
            await Task.Delay(10);
        }
        return Changes.Any(match);
    }
}
