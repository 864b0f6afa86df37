using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Metrics;

/// <summary>The "Metrics" configuration section: where the Prometheus endpoint listens (docs/metrics.md).</summary>
public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>
    /// Empty (the default): no endpoint. <c>127.0.0.1:9469</c> or <c>[::1]:9469</c>: HTTP on that
    /// loopback address. <c>unix:/run/agentsched/metrics.sock</c>: HTTP on a Unix socket with the
    /// API socket's group and mode.
    /// </summary>
    public string Listen { get; set; } = "";
}

/// <summary>A parsed <see cref="MetricsOptions.Listen"/>: a loopback TCP endpoint or a Unix socket path.</summary>
internal sealed record MetricsEndpoint(IPEndPoint? Tcp, string? UnixPath)
{
    public static bool TryParse(string listen, out MetricsEndpoint? endpoint, out string error)
    {
        endpoint = null;
        error = "";
        if (listen.Length == 0)
        {
            return true;
        }
        if (listen.StartsWith("unix:", StringComparison.Ordinal))
        {
            string path = listen[5..];
            if (!Path.IsPathRooted(path) || Path.GetFileName(path).Length == 0 || System.Text.Encoding.UTF8.GetByteCount(path) > 107)
            {
                error = $"Metrics:Listen: '{path}' must be an absolute Unix socket path (a file name in a directory) of at most 107 bytes";
                return false;
            }
            endpoint = new MetricsEndpoint(null, path);
            return true;
        }
        if (!IPEndPoint.TryParse(listen, out IPEndPoint? ip) || ip.Port == 0 || !listen.Contains(':'))
        {
            error = $"Metrics:Listen must be empty, ADDRESS:PORT or unix:/PATH (got '{listen}')";
            return false;
        }
        if (!IPAddress.IsLoopback(ip.Address))
        {
            error = $"Metrics:Listen: {ip.Address} is not a loopback address; the endpoint has no authentication, so it listens on 127.0.0.1 or ::1 only (put a proxy in front to expose it)";
            return false;
        }
        endpoint = new MetricsEndpoint(ip, null);
        return true;
    }

    public override string ToString() => Tcp is { } ip ? $"http://{ip.ToString()}/metrics" : $"unix:{UnixPath} (GET /metrics)";
}

internal sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, MetricsOptions o) =>
        MetricsEndpoint.TryParse(o.Listen ?? "", out _, out string error)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(error.ToString(CultureInfo.InvariantCulture));
}
