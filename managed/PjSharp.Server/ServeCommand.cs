using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PjSharp.DataAccess;
using PjSharp.Hosting;

namespace PjSharp.Server;

/// <summary>
/// <c>pjsharp serve</c>: the PjSharp server on the Generic Host: a registrar with digest
/// authentication configured from an Asterisk-syntax pjsip.conf, contacts in SQLite.
/// </summary>
internal static class ServeCommand
{
    /// <summary>The configuration run when none is given.</summary>
    public static string SampleConfiguration => Path.Combine(AppContext.BaseDirectory, "samples", "pjsip.conf");

    public static Command Create()
    {
        var transports = new Option<string[]>("--transport", "-t")
        {
            Description = "A transport to listen on: udp|tcp|tls|ws|wss:<address>:<port>, e.g. udp:127.0.0.1:5060, tls:[::1]:5061 or ws:127.0.0.1:8088 (WebSocket on /ws) (port 0 = any free port). Repeatable. Default: the configuration's transports.",
            AllowMultipleArgumentsPerToken = false,
        };
        var config = new Option<string?>("--config", "-c")
        {
            Description = "An Asterisk-syntax pjsip.conf (endpoints, auths, aors, identify, acl, global, transports). Default: the bundled sample.",
        };
        var database = new Option<string>("--db")
        {
            Description = "The SQLite database for contacts.",
            DefaultValueFactory = _ => "pjsharp.db",
        };
        var workers = new Option<int>("--workers")
        {
            Description = "pjsip worker threads.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "PEM certificate for TLS transports." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key for TLS transports." };
        var tlsCa = new Option<string?>("--tls-ca") { Description = "PEM CA list for verifying TLS peers." };
        var tlsVerifyClient = new Option<bool>("--tls-verify-client") { Description = "Require and verify TLS client certificates." };
        var logLevel = new Option<LogLevel>("--log-level")
        {
            Description = "Least severe log level written to standard error.",
            DefaultValueFactory = _ => LogLevel.Information,
        };
        var nativeLogLevel = new Option<int>("--native-log-level")
        {
            Description = "pjlib's own log level, 0 (none) to 6.",
            DefaultValueFactory = _ => 2,
        };
        var poolCache = new Option<int>("--pool-cache-mb")
        {
            Description = "Memory pjsip may keep in released pools for reuse, in MiB.",
            DefaultValueFactory = _ => 32,
        };
        var drain = new Option<double>("--drain-seconds")
        {
            Description = "How long shutdown waits for queued work (registrations being written).",
            DefaultValueFactory = _ => 10,
        };

        var algorithms = new Option<string[]>("--auth-algorithm")
        {
            Description = "A digest algorithm to challenge with: MD5, SHA-256 or SHA-512-256 (strongest is offered first). Repeatable. Default: MD5.",
            AllowMultipleArgumentsPerToken = false,
        };
        var settings = new Option<string?>("--settings")
        {
            Description = "A JSON settings file (the PjSharp section: NodeName, PostgreSql, Security, Sessions, ...), read after ./appsettings.json.",
        };
        var trace = new Option<bool>("--trace") { Description = "Log every SIP message in and out." };
        var pcap = new Option<string?>("--pcap") { Description = "Write every SIP message in and out to this pcap file (sngrep, tshark, Wireshark)." };
        var adminSocket = new Option<string?>("--admin-socket")
        {
            Description = "The admin socket for pjsharp show --server and pjsharp trace (mode 0600), or 'off'. Default: beside the database, <database name>.sock.",
        };
        var progress = new Option<bool>("--progress") { Description = "Print each start-up step even when the output is not a terminal." };

        var command = new Command("serve", "Run the PjSharp SIP server: a registrar with digest authentication, configured from a pjsip.conf.")
        {
            transports, config, database, workers, tlsCert, tlsKey, tlsCa, tlsVerifyClient, logLevel, nativeLogLevel, poolCache, drain, trace, pcap, algorithms, settings, adminSocket, progress,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var showProgress = parse.GetValue(progress) || !Console.IsOutputRedirected;
            var configFile = parse.GetValue(config) ?? SampleConfiguration;
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Configuration.AddJsonFile(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json"), optional: true);
            if (parse.GetValue(settings) is { } settingsFile)
            {
                if (!File.Exists(settingsFile))
                {
                    await Console.Error.WriteLineAsync($"pjsharp serve: --settings: '{settingsFile}' does not exist.");
                    return 2;
                }
                builder.Configuration.AddJsonFile(Path.GetFullPath(settingsFile), optional: false);
            }
            builder.Configuration.AddEnvironmentVariables("PJSHARP__");
            builder.Logging.SetMinimumLevel(parse.GetValue(logLevel));
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
            // A failed start is reported below as one line; the host's own report would add a stack trace.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
            builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
            var drainTime = TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(drain)));
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = drainTime + TimeSpan.FromSeconds(10));
            // Command-line options given explicitly win over the settings files; defaults do not.
            bool Given(Option option) => parse.GetResult(option) is { Implicit: false };
            builder.Services.AddPjSharp(options =>
            {
                options.Transports.AddRange(parse.GetValue(transports) ?? []);
                if (Given(config) || options.ConfigFile == null)
                    options.ConfigFile = configFile;
                if (Given(database))
                    options.Database = parse.GetValue(database)!;
                if (Given(workers) || options.WorkerThreads == 0)
                    options.WorkerThreads = parse.GetValue(workers);
                if (Given(nativeLogLevel))
                    options.NativeLogLevel = parse.GetValue(nativeLogLevel);
                if (Given(poolCache))
                    options.PoolCacheMegabytes = parse.GetValue(poolCache);
                if (Given(drain))
                    options.DrainTimeout = drainTime;
                if (Given(tlsCert))
                    options.TlsCertificateFile = parse.GetValue(tlsCert);
                if (Given(tlsKey))
                    options.TlsPrivateKeyFile = parse.GetValue(tlsKey);
                if (Given(tlsCa))
                    options.TlsCaListFile = parse.GetValue(tlsCa);
                if (Given(tlsVerifyClient))
                    options.TlsVerifyClient = parse.GetValue(tlsVerifyClient);
                if (Given(trace))
                    options.Trace.Enabled = parse.GetValue(trace);
                if (Given(pcap))
                    options.Trace.PcapFile = parse.GetValue(pcap);
                options.Security.DigestAlgorithms.AddRange(parse.GetValue(algorithms) ?? []);
                if (parse.GetValue(adminSocket) is { } socket)
                {
                    var off = socket.Equals("off", StringComparison.OrdinalIgnoreCase);
                    options.Admin.Enabled = !off;
                    if (!off)
                        options.Admin.Socket = socket;
                }
            }).AddAdminEndpoint();

            try
            {
                builder.Services.AddPjSharpTelemetry(builder.Configuration);
            }
            catch (Exception invalid) when (invalid is FormatException or UriFormatException)
            {
                await Console.Error.WriteLineAsync($"pjsharp serve: {invalid.Message}");
                return 2;
            }
            using var host = builder.Build();
            if (showProgress)
                host.Services.GetRequiredService<PjSharpServer>().StartupProgress = new StartupProgress(Console.Out);
            try
            {
                await host.StartAsync(cancellation);
            }
            catch (OptionsValidationException invalid)
            {
                foreach (var failure in invalid.Failures)
                    await Console.Error.WriteLineAsync($"pjsharp serve: {failure}");
                return 2;
            }
            catch (ConfigurationException invalid)
            {
                foreach (var diagnostic in invalid.Diagnostics)
                    await Console.Error.WriteLineAsync(diagnostic.ToString());
                return 1;
            }
            catch (FormatException invalid)
            {
                await Console.Error.WriteLineAsync($"pjsharp serve: {invalid.Message}");
                return 2;
            }
            catch (Interop.PjSipException failed)
            {
                // A transport that cannot bind (port in use, address not here) and other pjsip start-up failures.
                await Console.Error.WriteLineAsync($"pjsharp serve: cannot start: {failed.Message}");
                return 1;
            }
            catch (Exception failed) when (failed is DataAccess.BackendUnavailableException or System.Data.Common.DbException or IOException or UnauthorizedAccessException)
            {
                // A database or file the server cannot use: say which, without a stack trace.
                await Console.Error.WriteLineAsync($"pjsharp serve: cannot start: {failed.Message}");
                return 1;
            }

            var server = host.Services.GetRequiredService<PjSharpServer>();
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
            // Handled here rather than by the command line library, which would end the process
            // after its own grace period while registrations are still being written.
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; lifetime.StopApplication(); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; lifetime.StopApplication(); });
            using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _ = server.ReloadAsync(CancellationToken.None);
            });
            foreach (var transport in server.Transports)
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"listening {transport}"));
            if (host.Services.GetRequiredService<Hosting.Admin.AdminComponent>().SocketPath is { } admin)
                Console.Out.WriteLine($"admin socket {admin}");
            if (showProgress)
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"started in {clock.ElapsedMilliseconds} ms"));
            Console.Out.WriteLine("ready");
            await Console.Out.FlushAsync(CancellationToken.None);
            await host.WaitForShutdownAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }
}

/// <summary>Start-up steps as lines on the terminal, as they happen.</summary>
internal sealed class StartupProgress(TextWriter output) : IProgress<string>
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public void Report(string value)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_clock.ElapsedMilliseconds,5} ms] {value}"));
        output.Flush();
    }
}
