using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using PjSharp.Interop;

namespace PjSharp.Diagnostics;

/// <summary>Routes pjlib's log output to an ILogger (category "PjSharp.Native").</summary>
internal static unsafe class NativeLog
{
    private static ILogger? s_logger;

    [ThreadStatic] private static List<string>? t_capture;

    public static void Attach(ILogger logger, int level)
    {
        s_logger = logger;
        PjLibrary.EnsureInitialized();
        PjLog.pj_log_set_level(Math.Clamp(level, 0, 6));
        // ILogger adds time and thread; pjlib only names the sender.
        PjLog.pj_log_set_decor((uint)pj_log_decoration.PJ_LOG_HAS_SENDER);
        PjSharpNative.pjsharp_log_set_callback(&OnLog);
    }

    /// <summary>Collects what pjlib logs on this thread while <paramref name="action"/> runs.</summary>
    public static List<string> Capture(Action action)
    {
        var lines = new List<string>();
        t_capture = lines;
        try
        {
            action();
        }
        finally
        {
            t_capture = null;
        }
        return lines;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(int level, byte* data, int length)
    {
        try
        {
            var text = Encoding.UTF8.GetString(data, length).TrimEnd('\r', '\n');
            if (t_capture is { } capture)
            {
                capture.Add(text);
                return;
            }
            var logger = s_logger;
            if (logger == null)
                return;
            var logLevel = level switch
            {
                <= 1 => LogLevel.Error,
                2 => LogLevel.Warning,
                3 => LogLevel.Information,
                4 => LogLevel.Debug,
                _ => LogLevel.Trace,
            };
            if (logger.IsEnabled(logLevel))
                logger.NativeLine(logLevel, text);
        }
#pragma warning disable CA1031 // Logging must never unwind into pjlib.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
