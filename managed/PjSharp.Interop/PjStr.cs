using System.Text;

namespace PjSharp.Interop;

/// <summary>pj_str_t helpers: read without allocating, compare case-insensitively as SIP does.</summary>
public static unsafe class PjStr
{
    public static ReadOnlySpan<byte> AsSpan(in pj_str_t value) =>
        value.ptr == null || value.slen <= 0 ? default : new ReadOnlySpan<byte>(value.ptr, checked((int)value.slen));

    public static string ToManagedString(in pj_str_t value) => Encoding.UTF8.GetString(AsSpan(value));

    public static bool EqualsIgnoreCase(in pj_str_t value, ReadOnlySpan<byte> ascii) =>
        Ascii.EqualsIgnoreCase(AsSpan(value), ascii);

    /// <summary>A pj_str_t over memory the caller keeps alive (pinned or native) for as long as pjsip uses it.</summary>
    public static pj_str_t FromPointer(byte* pointer, int length) => new() { ptr = pointer, slen = length };

    /// <summary>Copies text to native memory as a NUL-terminated UTF-8 string; free with <see cref="FreeNative"/>.</summary>
    public static pj_str_t AllocNative(string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var memory = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)length + 1);
        Encoding.UTF8.GetBytes(text, new Span<byte>(memory, length));
        memory[length] = 0;
        return new pj_str_t { ptr = memory, slen = length };
    }

    /// <summary>Copies text into a pjsip pool; it lives as long as the pool.</summary>
    public static pj_str_t FromPool(pj_pool_t* pool, string text)
    {
        var length = Encoding.UTF8.GetByteCount(text);
        var memory = (byte*)PjPool.pj_pool_alloc(pool, (nuint)length + 1);
        Encoding.UTF8.GetBytes(text, new Span<byte>(memory, length));
        memory[length] = 0;
        return new pj_str_t { ptr = memory, slen = length };
    }

    /// <summary>NUL-terminated UTF-8 for the <c>const char*</c> parameters pjsip takes (names, mostly).</summary>
    public static byte[] NulTerminated(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    public static void FreeNative(ref pj_str_t value)
    {
        System.Runtime.InteropServices.NativeMemory.Free(value.ptr);
        value = default;
    }
}
