using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using PjSharp.Services;
using PjSharp.Transports;

namespace PjSharp.Server;

/// <summary><c>pjsharp serve</c>: an endpoint on the given transports that answers OPTIONS.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var transports = new Option<string[]>("--transport", "-t")
        {
            Description = "A transport to listen on: udp|tcp|tls:<address>:<port>, e.g. udp:127.0.0.1:5060 or tls:[::1]:5061 (port 0 = any free port). Repeatable.",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => ["udp:127.0.0.1:5060"],
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
            DefaultValueFactory = _ => (int)(new SipEndpointOptions().PoolCacheBytes / (1024 * 1024)),
        };

        var command = new Command("serve", "Run a SIP endpoint that answers OPTIONS on the given transports.")
        {
            transports, workers, tlsCert, tlsKey, tlsCa, tlsVerifyClient, logLevel, nativeLogLevel, poolCache,
        };
        command.SetAction(async (parse, cancellation) =>
        {
            using var loggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(builder => builder
                .SetMinimumLevel(parse.GetValue(logLevel))
                .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; })
                .AddFilter((_, _) => true));
            var options = new SipEndpointOptions
            {
                WorkerThreads = parse.GetValue(workers),
                NativeLogLevel = parse.GetValue(nativeLogLevel),
                PoolCacheBytes = Math.Max(0, parse.GetValue(poolCache)) * 1024L * 1024,
            };
            var tls = new SipTlsOptions
            {
                CertificateFile = parse.GetValue(tlsCert),
                PrivateKeyFile = parse.GetValue(tlsKey),
                CaListFile = parse.GetValue(tlsCa),
                VerifyClient = parse.GetValue(tlsVerifyClient),
                RequireClientCertificate = parse.GetValue(tlsVerifyClient),
            };
            try
            {
                foreach (var text in parse.GetValue(transports) ?? [])
                {
                    var transport = SipTransportOptions.Parse(text);
                    options.Transports.Add(transport.Protocol == SipTransportProtocol.Tls ? transport with { Tls = tls } : transport);
                }
            }
            catch (FormatException error)
            {
                await Console.Error.WriteLineAsync($"pjsharp serve: {error.Message}");
                return 2;
            }

            using var stop = new CancellationTokenSource();
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, cancellation);

            using var endpoint = SipEndpoint.Create(options, loggerFactory);
            using var optionsService = new OptionsService(endpoint, rejectUnhandled: true);
            endpoint.RegisterService(optionsService);
            endpoint.Start();
            foreach (var transport in endpoint.Transports)
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"listening {transport}"));
            Console.Out.WriteLine("ready");
            await Console.Out.FlushAsync(CancellationToken.None);
            try
            {
                await Task.Delay(Timeout.Infinite, linked.Token);
            }
            catch (OperationCanceledException)
            {
            }
            endpoint.Stop();
            return 0;
        });
        return command;
    }
}
