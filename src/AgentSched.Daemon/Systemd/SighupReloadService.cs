using System.Globalization;
using System.Runtime.InteropServices;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Systemd;

/// <summary>
/// Turns SIGHUP (what `systemctl reload agentsched` sends, ExecReload=/bin/kill -HUP $MAINPID)
/// into a configuration reload. Without a handler the .NET runtime's default action for SIGHUP is
/// to terminate the process, and systemd counts death by SIGHUP as a clean exit, so
/// Restart=on-failure would not bring the scheduler back. Around the reload it tells systemd
/// "RELOADING=1" (with MONOTONIC_USEC, as Type=notify-reload expects) and then "READY=1".
/// What a reload changes is ConfigReloader's business (the Api section, validated first); a reload
/// it rejects (<see cref="Configuration.ConfigurationRejectedException"/>) is logged once, as
/// rejected, and not as reloaded.
/// </summary>
public sealed partial class SighupReloadService(ISystemdNotifier notifier, Action reload, ILogger<SighupReloadService> logger)
    : IHostedService, IDisposable
{
    private readonly Lock _lock = new();
    private PosixSignalRegistration? _registration;

    /// <summary>How many reloads have run (tests).</summary>
    internal int Reloads { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSighup);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // SIGHUP stays handled until the process exits: a reload racing shutdown must not kill it.
        return Task.CompletedTask;
    }

    public void Dispose() => _registration?.Dispose();

    private void OnSighup(PosixSignalContext context)
    {
        context.Cancel = true; // handled: not the runtime's default action
        // Off the signal thread, and one reload at a time.
        _ = Task.Run(Reload);
    }

    internal void Reload()
    {
        lock (_lock)
        {
            notifier.Notify(string.Create(CultureInfo.InvariantCulture, $"RELOADING=1\nMONOTONIC_USEC={MonotonicClock.NowNs() / 1000}"));
            LogReloading();
            try
            {
                reload();
                Reloads++;
                notifier.Notify("READY=1");
                LogReloaded();
            }
            catch (Configuration.ConfigurationRejectedException e)
            {
                // Said once, with every reason; the running configuration stays, so no "reloaded".
                notifier.Notify($"READY=1\nSTATUS=reload rejected: {e.Message}");
                LogRejected(e.Message);
            }
            catch (Exception e)
            {
                notifier.Notify($"READY=1\nSTATUS=reload failed: {e.Message}");
                LogReloadFailed(e.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SIGHUP: reloading the configuration")]
    private partial void LogReloading();

    [LoggerMessage(Level = LogLevel.Information, Message = "configuration reloaded")]
    private partial void LogReloaded();

    [LoggerMessage(Level = LogLevel.Error, Message = "configuration reload rejected, the running configuration stays: {Reasons}")]
    private partial void LogRejected(string reasons);

    [LoggerMessage(Level = LogLevel.Error, Message = "reloading the configuration failed: {Error}")]
    private partial void LogReloadFailed(string error);
}
