using System.Runtime.InteropServices;
using System.Text;

namespace PjSharp.Interop;

/// <summary>
/// Registers the calling thread with pjlib before it calls pjsip: once per thread,
/// with a descriptor that stays allocated for the thread's whole life.
/// </summary>
public static unsafe class PjThread
{
    // pj_thread_desc is long[PJ_THREAD_DESC_SIZE]; the bindings map C long for this platform.
    private static readonly nuint DescriptorSize = (nuint)(PjConstants.PJ_THREAD_DESC_SIZE * sizeof(long));

    [ThreadStatic] private static bool t_registered;

    /// <summary>Whether this thread may call pjsip.</summary>
    public static bool IsRegistered => t_registered || (PjLibrary.IsInitialized && PjOs.pj_thread_is_registered() != 0);

    /// <summary>Registers this thread with pjlib unless it already is. Requires <see cref="PjLibrary.EnsureInitialized"/>.</summary>
    public static void EnsureRegistered(string? name = null)
    {
        if (t_registered)
            return;
        if (PjOs.pj_thread_is_registered() != 0)
        {
            t_registered = true;
            return;
        }
        // pjlib keeps a pointer to the descriptor in thread-local storage, so it is never freed:
        // a few hundred bytes per thread that ever called pjsip.
        var descriptor = (long*)NativeMemory.AllocZeroed(DescriptorSize);
        var threadName = name ?? $"net{Environment.CurrentManagedThreadId}";
        var nameBytes = new byte[Encoding.UTF8.GetByteCount(threadName) + 1];
        Encoding.UTF8.GetBytes(threadName, nameBytes);
        pj_thread_t* thread;
        int status;
        fixed (byte* namePointer = nameBytes)
            status = PjOs.pj_thread_register(namePointer, descriptor, &thread);
        if (status != ThrowHelper.Success)
        {
            NativeMemory.Free(descriptor);
            ThrowHelper.Throw(status, "pj_thread_register");
        }
        t_registered = true;
    }
}
