namespace PjSharp.Interop;

/// <summary>Process-wide pjlib initialisation (pj_init is reference counted by pjlib itself).</summary>
public static class PjLibrary
{
    private static readonly Lock s_gate = new();
    private static volatile bool s_initialized;

    public static bool IsInitialized => s_initialized;

    /// <summary>Calls pj_init and pjlib_util_init once, and registers the calling thread.</summary>
    public static void EnsureInitialized()
    {
        if (!s_initialized)
        {
            lock (s_gate)
            {
                if (!s_initialized)
                {
                    ThrowHelper.ThrowIfFailed(PjTypes.pj_init(), "pj_init");
                    ThrowHelper.ThrowIfFailed(PjlibUtilTypes.pjlib_util_init(), "pjlib_util_init");
                    s_initialized = true;
                }
            }
        }
        PjThread.EnsureRegistered();
    }
}
