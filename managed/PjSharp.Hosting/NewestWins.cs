namespace PjSharp.Hosting;

/// <summary>
/// Orders overlapping rebuilds of one snapshot: each takes a ticket before it reads, and its result
/// is published only if no rebuild that began later has published already. Without it a rebuild
/// that read the store first but finished last would put back a snapshot without the later change.
/// </summary>
internal sealed class NewestWins
{
    private readonly Lock _gate = new();
    private long _begun;
    private long _published;

    /// <summary>Takes the ticket of a rebuild about to read.</summary>
    public long Begin() => Interlocked.Increment(ref _begun);

    /// <summary>Runs <paramref name="publish"/> unless a rebuild begun after <paramref name="ticket"/> has published; true when it ran.</summary>
    public bool TryPublish(long ticket, Action publish)
    {
        ArgumentNullException.ThrowIfNull(publish);
        lock (_gate)
        {
            if (ticket < _published)
                return false;
            _published = ticket;
            publish();
            return true;
        }
    }
}
