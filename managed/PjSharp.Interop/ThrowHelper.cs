using System.Diagnostics.CodeAnalysis;

namespace PjSharp.Interop;

/// <summary>Maps pj_status_t results to exceptions, in one place.</summary>
public static unsafe class ThrowHelper
{
    public const int Success = 0;

    /// <summary>Throws <see cref="PjSipException"/> unless status is PJ_SUCCESS.</summary>
    public static void ThrowIfFailed(int status, string operation)
    {
        if (status != Success)
            Throw(status, operation);
    }

    [DoesNotReturn]
    public static void Throw(int status, string operation) =>
        throw new PjSipException(status, operation, StatusText(status));

    /// <summary>pjproject's text for a status code.</summary>
    public static string StatusText(int status)
    {
        const int size = 160;
        byte* buffer = stackalloc byte[size];
        var text = PjErrno.pj_strerror(status, buffer, size);
        return PjStr.ToManagedString(text);
    }
}
