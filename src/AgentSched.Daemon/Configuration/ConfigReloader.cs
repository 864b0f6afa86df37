using AgentSched.Daemon.Api;
using AgentSched.Daemon.Scheduler;
using AgentSched.Daemon.State;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Configuration;

/// <summary>
/// SIGHUP (systemctl reload; the signal is taken by Systemd.SighupReloadService) re-reads the configuration. The Api section (limits, default step
/// window) applies at once, to new requests and new connections; the socket's path, mode and group,
/// the Scheduler section and the State section apply at the next start, and the log says so.
/// An invalid file changes nothing: each problem is logged and the running values stay.
/// </summary>
internal sealed partial class ConfigReloader(
    IConfiguration configuration,
    LiveOptions<ApiOptions> api,
    IOptions<SchedulerOptions> scheduler,
    IOptions<StateOptions> state,
    ILogger<ConfigReloader> logger)
{
    internal void Reload()
    {
        if (configuration is IConfigurationRoot root)
        {
            root.Reload();
        }
        var fresh = new ApiOptions();
        configuration.GetSection(ApiOptions.Section).Bind(fresh);
        ValidateOptionsResult result = new ApiOptionsValidator().Validate(null, fresh);
        if (result.Failed)
        {
            foreach (string failure in result.Failures ?? [])
            {
                LogRejected(failure);
            }
            return;
        }
        ApiOptions old = api.Current;
        if (fresh.SocketPath != old.SocketPath || fresh.SocketMode != old.SocketMode || fresh.SocketGroup != old.SocketGroup)
        {
            LogNextStart("Api:SocketPath, SocketMode and SocketGroup");
        }
        api.Replace(fresh);

        var freshScheduler = new SchedulerOptions();
        configuration.GetSection(SchedulerOptions.Section).Bind(freshScheduler);
        if (freshScheduler.Tunables != scheduler.Value.Tunables || freshScheduler.ParsedMode != scheduler.Value.ParsedMode)
        {
            LogNextStart("the Scheduler section");
        }
        var freshState = new StateOptions();
        configuration.GetSection(StateOptions.Section).Bind(freshState);
        if (freshState.Directory != state.Value.Directory)
        {
            LogNextStart("State:Directory");
        }
        LogReloaded(fresh.MaxRequestsPerSecond, fresh.MaxBurstTasksPerUid, fresh.MaxMarks, fresh.DefaultStepWindowMs);
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "configuration reloaded: {Rate} requests/s per connection, {Burst} BURST tasks per uid, {MaxMarks} marks, {Window} ms default step window")]
    private partial void LogReloaded(int rate, int burst, int maxMarks, int window);

    [LoggerMessage(Level = LogLevel.Error, Message = "configuration reload rejected, nothing changed: {Failure}")]
    private partial void LogRejected(string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "changes to {What} take effect at the next start")]
    private partial void LogNextStart(string what);
}
