using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace PjSharp.Interop;

/// <summary>
/// Base of every handle that owns a pjproject reference. The release runs at once on a
/// thread registered with pjlib; from any other thread (the finalizer's, say) it is
/// posted to <see cref="PjReleaseQueue"/>, which a registered worker drains. A handle may
/// keep a parent alive (a dialog its endpoint, a clone its pool) until it is released.
/// </summary>
public abstract class PjSafeHandle : SafeHandle
{
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

    protected sealed override bool ReleaseHandle()
    {
        if (PjThread.IsRegistered)
            ReleaseNow(handle);
        else
            PjReleaseQueue.Post(this, handle);
        return true;
    }

    internal void ReleaseNow(nint value)
    {
        try
        {
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

    /// <summary>Forgets pending releases: after the endpoint is destroyed their memory is already gone.</summary>
    public static void Discard() => s_pending.Clear();
}
