using AgentSched.Daemon.Api;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Configuration;

/// <summary>
/// SIGHUP (systemctl reload; the signal is taken by Systemd.SighupReloadService) re-reads the
/// configuration through <see cref="DaemonConfiguration.Load"/>, the check the start went through.
/// Any problem (an unknown key, a bad value in any section, a broken file) rejects the whole reload:
/// it throws <see cref="ConfigurationRejectedException"/> with every reason, and nothing changes.
/// Otherwise the Api section's limits and default step window apply at once, to new requests and
/// new connections; every other key (the socket's path, mode and group included) applies at the
/// next start, and the log names the ones that changed.
/// </summary>
internal sealed partial class ConfigReloader(
    Func<ConfigurationSources> sources,
    DaemonSettings running,
    LiveOptions<ApiOptions> api,
    ILogger<ConfigReloader> logger)
{
    private static readonly string[] s_atNextStartApiKeys = [nameof(ApiOptions.SocketPath), nameof(ApiOptions.SocketMode), nameof(ApiOptions.SocketGroup)];

    /// <summary>Whether a reload applies <paramref name="key"/> at once (else at the next start).</summary>
    internal static bool AppliesAtOnce(ConfigKey key) =>
        key.Section == ConfigurationSchema.Api && !s_atNextStartApiKeys.Contains(key.Property.Name);

    internal void Reload()
    {
        ConfigurationResult result = DaemonConfiguration.Load(sources());
        if (result.Settings is not { } fresh)
        {
            throw new ConfigurationRejectedException(string.Join("; ", result.Errors));
        }
        string[] later = [.. running.Differences(fresh).Where(k => !AppliesAtOnce(k)).Select(k => k.Name)];
        if (later.Length > 0)
        {
            LogNextStart(string.Join(", ", later));
        }
        // The socket keeps the path, mode and group it was made with (the metrics socket copies them).
        ApiOptions o = fresh.Api;
        o.SocketPath = running.Api.SocketPath;
        o.SocketMode = running.Api.SocketMode;
        o.SocketGroup = running.Api.SocketGroup;
        api.Replace(o);
        LogApplied(o.MaxRequestsPerSecond, o.MaxBurstTasksPerUid, o.MaxMarks, o.MaxMarksPerUid, o.MaxConnections, o.MaxConnectionsPerUid, o.IdleTimeoutSeconds, o.DefaultStepWindowMs);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Api limits now: {Rate} requests/s per connection, {Burst} BURST tasks per uid, {MaxMarks} marks ({PerUid} per uid), {Connections} connections ({ConnectionsPerUid} per uid), {Idle} s idle timeout, {Window} ms default step window")]
    private partial void LogApplied(int rate, int burst, int maxMarks, int perUid, int connections, int connectionsPerUid, int idle, int window);

    [LoggerMessage(Level = LogLevel.Warning, Message = "changes to {Keys} take effect at the next start")]
    private partial void LogNextStart(string keys);
}

/// <summary>A reload found the configuration invalid; the message lists every reason. Nothing was changed.</summary>
public sealed class ConfigurationRejectedException(string reasons) : Exception(reasons);
