using Microsoft.Extensions.Hosting;

namespace AgentSched.Daemon.Systemd;

/// <summary>
/// Sends "READY=1" when the host has started (every hosted service's StartAsync returned, so the
/// scheduler is attached) and "STOPPING=1" when it begins to stop. A start that fails never sends
/// READY=1: systemd sees the process exit and reports the unit failed.
/// </summary>
public sealed class SystemdLifetimeNotifications(ISystemdNotifier notifier, IHostApplicationLifetime lifetime) : IHostedService, IDisposable
{
    private CancellationTokenRegistration _started;
    private CancellationTokenRegistration _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (notifier.IsEnabled)
        {
            _started = lifetime.ApplicationStarted.Register(() => notifier.Notify("READY=1"));
            _stopping = lifetime.ApplicationStopping.Register(() => notifier.Notify("STOPPING=1"));
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _started.Dispose();
        _stopping.Dispose();
    }
}
