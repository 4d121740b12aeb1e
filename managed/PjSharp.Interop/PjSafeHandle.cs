using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace PjSharp.Interop;

/// <summary>
/// Base of every handle that owns a pjproject reference. The release runs at once on a
/// thread registered with pjlib; from any other thread (the finalizer's, say) it is
/// posted to <see cref="PjReleaseQueue"/>, which a registered worker drains. A handle may
/// keep a parent alive (a dialog its endpoint, a clone its pool) until it is released.
/// A handle that outlives the endpoint it came from releases nothing: destroying the endpoint
/// freed its memory with the pool factory.
/// </summary>
public abstract class PjSafeHandle : SafeHandle
{
    private readonly int _generation = PjReleaseQueue.Generation;
    private SafeHandle? _parent;

    protected PjSafeHandle(bool ownsHandle) : base(IntPtr.Zero, ownsHandle) { }

    protected PjSafeHandle(nint handle, bool ownsHandle) : base(IntPtr.Zero, ownsHandle) => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Keeps <paramref name="parent"/> alive until this handle is released.</summary>
    public void SetParent(SafeHandle parent)
    {
        ArgumentNullException.ThrowIfNull(parent);
        var added = false;
        parent.DangerousAddRef(ref added);
        if (Interlocked.CompareExchange(ref _parent, parent, null) != null)
        {
            parent.DangerousRelease();
            throw new InvalidOperationException("This handle already has a parent.");
        }
    }

    /// <summary>Calls the native release function. Only ever called on a registered thread.</summary>
    protected abstract void ReleaseNative(nint handle);

    /// <summary>Whether the endpoint this handle came from still exists.</summary>
    public bool IsFromCurrentEndpoint => _generation == PjReleaseQueue.Generation;

    protected sealed override bool ReleaseHandle()
    {
        if (!IsFromCurrentEndpoint || PjThread.IsRegistered)
            ReleaseNow(handle);
        else
            PjReleaseQueue.Post(this, handle);
        return true;
    }

    internal void ReleaseNow(nint value)
    {
        try
        {
            if (IsFromCurrentEndpoint)
                ReleaseNative(value);
        }
        finally
        {
            Interlocked.Exchange(ref _parent, null)?.DangerousRelease();
        }
    }
}

/// <summary>Releases posted by threads that may not call pjsip, run later by a registered thread.</summary>
public static class PjReleaseQueue
{
    private static readonly ConcurrentQueue<(PjSafeHandle Owner, nint Handle)> s_pending = new();
    private static int s_generation;

    /// <summary>Changes each time an endpoint is destroyed; handles from earlier ones are void.</summary>
    public static int Generation => Volatile.Read(ref s_generation);

    public static bool IsEmpty => s_pending.IsEmpty;

    public static int Count => s_pending.Count;

    internal static void Post(PjSafeHandle owner, nint handle) => s_pending.Enqueue((owner, handle));

    /// <summary>Runs the posted releases; call only from a registered thread while pjsip is up.</summary>
    public static int Drain()
    {
        var released = 0;
        while (s_pending.TryDequeue(out var item))
        {
            item.Owner.ReleaseNow(item.Handle);
            released++;
        }
        return released;
    }

    /// <summary>
    /// Forgets pending releases and voids every handle created so far: call after the endpoint is
    /// destroyed, when their memory is already gone.
    /// </summary>
    public static void Discard()
    {
        Interlocked.Increment(ref s_generation);
        s_pending.Clear();
    }
}
