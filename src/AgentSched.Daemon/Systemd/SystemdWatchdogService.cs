using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Systemd;

/// <summary>
/// Pings systemd's watchdog ("WATCHDOG=1") every $WATCHDOG_USEC / 2 while the daemon reports
/// itself healthy. systemd sets WATCHDOG_USEC from the unit's WatchdogSec= (and WATCHDOG_PID to
/// the process it means); without them, or when WATCHDOG_PID names another process, this service
/// does nothing. When the health callback returns false (or throws) the ping is skipped, so a
/// wedged daemon is restarted by systemd after WatchdogSec instead of being kept alive by a timer.
/// </summary>
public sealed partial class SystemdWatchdogService : BackgroundService
{
    public const string IntervalVariable = "WATCHDOG_USEC";
    public const string PidVariable = "WATCHDOG_PID";

    private readonly ISystemdNotifier _notifier;
    private readonly Func<bool> _isHealthy;
    private readonly ILogger<SystemdWatchdogService> _logger;
    private readonly TimeProvider _time;
    private bool _unhealthy;

    /// <param name="getEnvironment">Looks up an environment variable.</param>
    /// <param name="isHealthy">Asked before every ping; false skips it.</param>
    public SystemdWatchdogService(ISystemdNotifier notifier, Func<string, string?> getEnvironment, Func<bool> isHealthy,
        ILogger<SystemdWatchdogService> logger, TimeProvider? time = null)
    {
        _notifier = notifier;
        _isHealthy = isHealthy;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        Interval = ReadInterval(getEnvironment, Environment.ProcessId);
    }

    /// <summary>How often the watchdog is pinged, or null when systemd asked for no watchdog for this process.</summary>
    public TimeSpan? Interval { get; }

    /// <summary>Half of $WATCHDOG_USEC (as sd_watchdog_enabled(3) recommends), or null when it is absent, zero, malformed, or meant for another pid.</summary>
    internal static TimeSpan? ReadInterval(Func<string, string?> getEnvironment, int pid)
    {
        if (!ulong.TryParse(getEnvironment(IntervalVariable), NumberStyles.None, CultureInfo.InvariantCulture, out ulong usec) || usec == 0)
        {
            return null;
        }
        string? forPid = getEnvironment(PidVariable);
        if (!string.IsNullOrEmpty(forPid)
            && (!int.TryParse(forPid, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p != pid))
        {
            return null;
        }
        // PeriodicTimer takes 1 ms .. 2^32-2 ms.
        double ms = Math.Clamp(usec / 2 / 1000.0, 1, uint.MaxValue - 1.0);
        return TimeSpan.FromMilliseconds(ms);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (Interval is not TimeSpan interval || !_notifier.IsEnabled)
        {
            return;
        }
        LogEnabled((long)interval.TotalMilliseconds);
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            do
            {
                PingIfHealthy();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping: STOPPING=1 has been sent and systemd no longer expects pings.
        }
    }

    private void PingIfHealthy()
    {
        bool healthy;
        try
        {
            healthy = _isHealthy();
        }
        catch (Exception e)
        {
            healthy = false;
            if (!_unhealthy)
            {
                LogHealthCheckFailed(e.Message);
            }
        }

        if (healthy)
        {
            if (_unhealthy)
            {
                _unhealthy = false;
                LogRecovered();
            }
            _notifier.Notify("WATCHDOG=1");
        }
        else if (!_unhealthy)
        {
            _unhealthy = true;
            LogPaused();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "systemd watchdog enabled: pinging every {IntervalMs} ms")]
    private partial void LogEnabled(long intervalMs);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "the daemon reports itself unhealthy: systemd watchdog pings paused (systemd restarts the daemon when WatchdogSec passes without one)")]
    private partial void LogPaused();

    [LoggerMessage(Level = LogLevel.Information, Message = "the daemon is healthy again: systemd watchdog pings resumed")]
    private partial void LogRecovered();

    [LoggerMessage(Level = LogLevel.Warning, Message = "the watchdog health check failed: {Error}")]
    private partial void LogHealthCheckFailed(string error);
}
