namespace PjSharp.Interop;

/// <summary>
/// Registers the calling thread with pjlib before it calls pjsip: once per thread,
/// with a descriptor that stays allocated for the thread's whole life.
/// </summary>
public static unsafe class PjThread
{
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
        var threadName = name ?? $"net{Environment.CurrentManagedThreadId}";
        var nameBytes = PjStr.NulTerminated(threadName);
        int status;
        fixed (byte* namePointer = nameBytes)
            status = PjSharpNative.pjsharp_thread_register(namePointer);
        ThrowHelper.ThrowIfFailed(status, "pj_thread_register");
        t_registered = true;
    }
}
