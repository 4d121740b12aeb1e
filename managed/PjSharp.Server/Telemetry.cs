using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using PjSharp.Diagnostics;

namespace PjSharp.Server;

/// <summary><c>PjSharp:Telemetry</c>: where the server's metrics and spans go. Everything is off until configured.</summary>
internal sealed class TelemetryOptions
{
    public const string Section = "PjSharp:Telemetry";

    /// <summary>An OTLP collector, e.g. <c>http://127.0.0.1:4317</c>: metrics and spans are exported there.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> (the default, port 4317) or <c>http/protobuf</c> (port 4318).</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>A Prometheus scrape endpoint, <c>host:port</c> (e.g. <c>127.0.0.1:9464</c>); scraped at <c>/metrics</c>.</summary>
    public string? PrometheusAddress { get; set; }

    /// <summary>The <c>service.name</c> resource attribute.</summary>
    public string ServiceName { get; set; } = "pjsharp";

    public bool IsEnabled => !string.IsNullOrWhiteSpace(OtlpEndpoint) || !string.IsNullOrWhiteSpace(PrometheusAddress);
}

internal static class Telemetry
{
    /// <summary>Adds the OpenTelemetry SDK with the exporters <see cref="TelemetryOptions"/> asks for; nothing when none is configured.</summary>
    public static IServiceCollection AddPjSharpTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        if (!options.IsEnabled)
            return services;
        var otlp = string.IsNullOrWhiteSpace(options.OtlpEndpoint) ? null : new Uri(options.OtlpEndpoint, UriKind.Absolute);
        var protocol = options.OtlpProtocol.Equals("http/protobuf", StringComparison.OrdinalIgnoreCase)
            ? OtlpExportProtocol.HttpProtobuf
            : options.OtlpProtocol.Equals("grpc", StringComparison.OrdinalIgnoreCase)
                ? OtlpExportProtocol.Grpc
                : throw new FormatException($"{TelemetryOptions.Section}:OtlpProtocol: '{options.OtlpProtocol}' is neither grpc nor http/protobuf");
        var prometheus = ParsePrometheus(options.PrometheusAddress);
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(options.ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(PjSharpMetrics.MeterName);
                if (otlp != null)
                {
                    metrics.AddOtlpExporter(exporter =>
                    {
                        exporter.Endpoint = MetricsEndpoint(otlp, protocol);
                        exporter.Protocol = protocol;
                    });
                }
                if (prometheus is { } scrape)
                {
                    metrics.AddPrometheusHttpListener(listener =>
                    {
                        listener.Host = scrape.Host;
                        listener.Port = scrape.Port;
                    });
                }
            });
        if (otlp != null)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(PjSharpActivities.SourceName)
                .AddOtlpExporter(exporter =>
                {
                    exporter.Endpoint = protocol == OtlpExportProtocol.HttpProtobuf ? new Uri(otlp, "v1/traces") : otlp;
                    exporter.Protocol = protocol;
                }));
        }
        return services;
    }

    // Over HTTP each signal has its own path; set by hand, the exporter takes the endpoint as given.
    private static Uri MetricsEndpoint(Uri endpoint, OtlpExportProtocol protocol) =>
        protocol == OtlpExportProtocol.HttpProtobuf ? new Uri(endpoint, "v1/metrics") : endpoint;

    private static (string Host, int Port)? ParsePrometheus(string? address)
    {
        if (string.IsNullOrWhiteSpace(address))
            return null;
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new FormatException($"{TelemetryOptions.Section}:PrometheusAddress: '{address}' is not host:port, such as 127.0.0.1:9464");
        return (address[..colon].Trim('[', ']'), port);
    }
}
