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

    // What pjsip says about packets it could not use: the sender's mistake (or an attack), not the
    // server's, so it goes to debug, where a flood of bad packets cannot fill the log.
    private static readonly byte[][] WireProblems =
    [
        .. new[]
        {
            "packet from", "Error processing", "syntax error", "Dropping", "-- end of packet", "Unable to parse",
            "Invalid message", "Error parsing", "Bad request", "Message too long",
        }.Select(Encoding.ASCII.GetBytes),
    ];

    internal static LogLevel LevelOf(int pjLevel, ReadOnlySpan<byte> text)
    {
        var level = pjLevel switch
        {
            <= 1 => LogLevel.Error,
            2 => LogLevel.Warning,
            3 => LogLevel.Information,
            4 => LogLevel.Debug,
            _ => LogLevel.Trace,
        };
        if (level <= LogLevel.Debug)
            return level;
        foreach (var marker in WireProblems)
        {
            if (text.IndexOf(marker) >= 0)
                return LogLevel.Debug;
        }
        return level;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(int level, byte* data, int length)
    {
        try
        {
            if (t_capture is { } capture)
            {
                capture.Add(Encoding.UTF8.GetString(data, length).TrimEnd('\r', '\n'));
                return;
            }
            var logger = s_logger;
            if (logger == null)
                return;
            var raw = new ReadOnlySpan<byte>(data, length).TrimEnd("\r\n"u8);
            var logLevel = LevelOf(level, raw);
            if (logger.IsEnabled(logLevel))
                logger.NativeLine(logLevel, Escape(raw));
        }
#pragma warning disable CA1031 // Logging must never unwind into pjlib.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>pjlib's line as text; packet dumps inside it carry client bytes, so control characters and invalid UTF-8 are escaped.</summary>
    internal static string Escape(ReadOnlySpan<byte> raw) => PjSharp.Interception.Security.LogText.Escape(raw, 16_384);
}
