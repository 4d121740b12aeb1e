using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using PjSharp.Interop;
using PjSharp.Messages;

namespace PjSharp.Diagnostics;

/// <summary>A problem with how the linked pjproject was built.</summary>
public sealed record PjprojectBuildProblem(bool IsFatal, string Message);

/// <summary>
/// What the linked pjproject is: its version, the settings libpjsharp's headers were compiled
/// with, what the library itself reports (pj_dump_config, an assertion probe, the packet
/// buffer size), and the problems found comparing them with what PjSharp requires.
/// </summary>
public sealed class PjprojectBuildReport
{
    internal PjprojectBuildReport(string version, IReadOnlyDictionary<string, long> compiled,
        IReadOnlyDictionary<string, string> library, bool? assertions, int maxPacketLength, IReadOnlyList<PjprojectBuildProblem> problems)
    {
        Version = version;
        CompiledSettings = compiled;
        LibraryConfiguration = library;
        AssertionsEnabled = assertions;
        MaxPacketLength = maxPacketLength;
        Problems = problems;
    }

    /// <summary>pj_get_version() of the linked library, e.g. "2.17".</summary>
    public string Version { get; }

    /// <summary>The pjproject settings libpjsharp and the bindings were compiled with (native/pjproject-settings.cmake).</summary>
    public IReadOnlyDictionary<string, long> CompiledSettings { get; }

    /// <summary>pj_dump_config's report of the library: PJ_DEBUG, ioqueue type, PJ_IOQUEUE_MAX_HANDLES, PJ_HAS_IPV6, ...</summary>
    public IReadOnlyDictionary<string, string> LibraryConfiguration { get; }

    /// <summary>Whether pjlib's assertions abort (a debug build); null when it cannot be probed.</summary>
    public bool? AssertionsEnabled { get; }

    /// <summary>PJSIP_MAX_PKT_LEN as the library was compiled (the size of a transmit buffer).</summary>
    public int MaxPacketLength { get; }

    public IReadOnlyList<PjprojectBuildProblem> Problems { get; }

    public string Ioqueue => LibraryConfiguration.GetValueOrDefault("ioqueue type", "?");

    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"ioqueue {Ioqueue} ({LibraryConfiguration.GetValueOrDefault("PJ_IOQUEUE_MAX_HANDLES", "?")} handles), " +
        $"PJ_DEBUG {LibraryConfiguration.GetValueOrDefault("PJ_DEBUG", "?")}, assertions {(AssertionsEnabled switch { true => "on", false => "off", _ => "unknown" })}, " +
        $"PJSIP_MAX_PKT_LEN {MaxPacketLength}, IPv6 {LibraryConfiguration.GetValueOrDefault("PJ_HAS_IPV6", "?")}, " +
        $"SSL {LibraryConfiguration.GetValueOrDefault("PJ_HAS_SSL_SOCK", "?")}, " +
        $"tsx/dialog tables {CompiledSettings.GetValueOrDefault("PJSIP_MAX_TSX_COUNT")}/{CompiledSettings.GetValueOrDefault("PJSIP_MAX_DIALOG_COUNT")} (as compiled)");

    internal void Log(ILogger logger, LogLevel warningLevel)
    {
        logger.BuildReport(Version, Summary);
        foreach (var problem in Problems)
            logger.BuildProblem(problem.IsFatal ? LogLevel.Critical : warningLevel, problem.Message);
    }
}

internal static unsafe partial class PjprojectBuildCheck
{
    /// <summary>Versions with fixes PjSharp's paths depend on, and what they fixed.</summary>
    private static readonly (Version Version, string Fixes)[] SecurityReleases =
    [
        (new Version(2, 16), "2.16 fixes advisories on paths PjSharp uses (a stack overflow in pjsip_auth_create_digest2, among others)"),
        (new Version(2, 17), "2.17 fixes further advisories (a Content-Length integer overflow in the parser, among others)"),
    ];

    public static PjprojectBuildReport Inspect(pjsip_endpoint* endpoint)
    {
        var version = Marshalling.Utf8(PjConfig.pj_get_version());
        var compiled = CompiledSettings();
        var library = LibraryConfiguration();
        var assertions = ProbeAssertions();
        var maxPacketLength = ProbeMaxPacketLength(endpoint);
        var problems = new List<PjprojectBuildProblem>();

        var minimum = Marshalling.Utf8(PjSharpNative.pjsharp_minimum_pjproject_version());
        var parsed = ParseVersion(version);
        if (parsed < ParseVersion(minimum))
            problems.Add(new(false, $"pjproject {version} is older than {minimum}, the oldest version PjSharp supports."));
        foreach (var (release, fixes) in SecurityReleases)
        {
            if (parsed < release)
                problems.Add(new(false, $"pjproject {version} predates known security fixes: {fixes}. Upgrade to 2.17."));
        }

        var expectedPacketLength = compiled.GetValueOrDefault("PJSIP_MAX_PKT_LEN");
        if (maxPacketLength != expectedPacketLength)
            problems.Add(new(true,
                $"pjproject was compiled with PJSIP_MAX_PKT_LEN={maxPacketLength} but libpjsharp expects {expectedPacketLength}: " +
                "pjsip_rx_data layouts differ. Rebuild pjproject with the settings in native/pjproject-settings.cmake."));
        if (assertions == true)
            problems.Add(new(false, "pjproject keeps assertions (built without NDEBUG): a malformed message can abort the process."));
        if (library.TryGetValue("PJ_DEBUG", out var debug) && debug != "0")
            problems.Add(new(false, "pjproject is a debug build (PJ_DEBUG=1): slower, and pool debugging is on."));
        if (library.TryGetValue("ioqueue type", out var ioqueue) && ioqueue == "select")
            problems.Add(new(false, "pjproject uses the select() ioqueue: at most FD_SETSIZE sockets and slower under load (configure with --enable-epoll)."));
        if (int.TryParse(library.GetValueOrDefault("PJ_IOQUEUE_MAX_HANDLES"), CultureInfo.InvariantCulture, out var handles)
            && handles < compiled.GetValueOrDefault("PJ_IOQUEUE_MAX_HANDLES"))
            problems.Add(new(false, $"PJ_IOQUEUE_MAX_HANDLES is {handles}; PjSharp asks for {compiled["PJ_IOQUEUE_MAX_HANDLES"]} (connections beyond it are refused)."));
        if (library.TryGetValue("PJ_HAS_IPV6", out var ipv6) && ipv6 != "1")
            problems.Add(new(false, "pjproject was built without IPv6 (PJ_HAS_IPV6=0)."));
        if (library.TryGetValue("PJ_HAS_SSL_SOCK", out var ssl) && ssl == "0")
            problems.Add(new(false, "pjproject was built without SSL: TLS transports cannot start."));

        return new PjprojectBuildReport(version, compiled, library, assertions, maxPacketLength, problems);
    }

    /// <summary>
    /// pjlib built without NDEBUG calls the C library's assertion handler, so libpjsharp then
    /// imports it (ELF only; null elsewhere). Our own shim never asserts.
    /// </summary>
    private static bool? ProbeAssertions()
    {
        if (!OperatingSystem.IsLinux())
            return null;
        var library = NativeLibraryResolver.CandidatePaths().FirstOrDefault(File.Exists);
        if (library == null)
            return null;
        var bytes = File.ReadAllBytes(library);
        return bytes.AsSpan().IndexOf("\0__assert_fail\0"u8) >= 0;
    }

    internal static Version ParseVersion(string text)
    {
        var match = VersionPattern().Match(text);
        if (!match.Success)
            return new Version(0, 0);
        return new Version(
            int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture),
            match.Groups[3].Success ? int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture) : 0);
    }

    private static Dictionary<string, long> CompiledSettings()
    {
        var settings = new Dictionary<string, long>(StringComparer.Ordinal);
        var count = PjSharpNative.pjsharp_build_setting_count();
        for (var i = 0; i < count; i++)
        {
            byte* name;
            long value;
            if (PjSharpNative.pjsharp_build_setting_get(i, &name, &value) != 0)
                settings[Marshalling.Utf8(name)] = value;
        }
        return settings;
    }

    private static Dictionary<string, string> LibraryConfiguration()
    {
        var level = PjLog.pj_log_get_level();
        List<string> lines;
        PjLog.pj_log_set_level(Math.Max(level, 3));
        try
        {
            lines = NativeLog.Capture(() => PjConfig.pj_dump_config());
        }
        finally
        {
            PjLog.pj_log_set_level(level);
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var match = ConfigLinePattern().Match(line);
            if (match.Success)
                values.TryAdd(match.Groups[1].Value.Trim(), match.Groups[2].Value.Trim());
        }
        return values;
    }

    /// <summary>pjsip sizes every transmit buffer to PJSIP_MAX_PKT_LEN: encode one request and measure it.</summary>
    private static int ProbeMaxPacketLength(pjsip_endpoint* endpoint)
    {
        var method = default(pjsip_method);
        PjsipSipMsg.pjsip_method_set(&method, pjsip_method_e.PJSIP_OPTIONS_METHOD);
        var target = Encoding.ASCII.GetBytes("sip:probe@127.0.0.1");
        pjsip_tx_data* tdata;
        fixed (byte* targetPointer = target)
        {
            var uri = PjStr.FromPointer(targetPointer, target.Length);
            ThrowHelper.ThrowIfFailed(
                PjsipSipUtil.pjsip_endpt_create_request(endpoint, &method, &uri, &uri, &uri, null, null, -1, null, &tdata),
                "pjsip_endpt_create_request");
        }
        try
        {
            ThrowHelper.ThrowIfFailed(PjsipSipTransport.pjsip_tx_data_encode(tdata), "pjsip_tx_data_encode");
            return (int)(tdata->buf.end - tdata->buf.start);
        }
        finally
        {
            _ = PjsipSipTransport.pjsip_tx_data_dec_ref(tdata);
        }
    }

    [GeneratedRegex(@"^(\d+)\.(\d+)(?:\.(\d+))?")]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"((?:PJ_[A-Z0-9_/()]+|ioqueue type))\s*:\s*(\S+)")]
    private static partial Regex ConfigLinePattern();
}
