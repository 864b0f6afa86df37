using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Systemd;

public static class SystemdServiceCollectionExtensions
{
    /// <summary>
    /// Registers the systemd integration: <see cref="ISystemdNotifier"/> (a no-op outside systemd),
    /// READY=1/STOPPING=1 from the host's lifetime, the watchdog (asks a registered
    /// <see cref="SystemdHealthCheck"/>, if any, before each ping) and SIGHUP as a configuration
    /// reload. Safe to call twice; register an <see cref="ISystemdNotifier"/> first to substitute it.
    /// </summary>
    public static IServiceCollection AddSystemdNotify(this IServiceCollection services)
    {
        services.TryAddSingleton<ISystemdNotifier>(sp =>
            new SystemdNotifier(Environment.GetEnvironmentVariable, sp.GetRequiredService<ILogger<SystemdNotifier>>()));

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SystemdLifetimeNotifications>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SystemdWatchdogService>(sp =>
        {
            SystemdHealthCheck? check = sp.GetService<SystemdHealthCheck>();
            return new SystemdWatchdogService(
                sp.GetRequiredService<ISystemdNotifier>(),
                Environment.GetEnvironmentVariable,
                check is null ? static () => true : () => check(),
                sp.GetRequiredService<ILogger<SystemdWatchdogService>>());
        }));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SighupReloadService>(sp =>
        {
            // agentschedd's ConfigReloader validates and applies; without it (tests), the host's
            // configuration (HostApplicationBuilder's ConfigurationManager) re-reads every source.
            Action? reload = sp.GetService<Configuration.ConfigReloader>() is { } reloader ? reloader.Reload : null;
            IConfigurationRoot? root = sp.GetService<IConfiguration>() as IConfigurationRoot;
            return new SighupReloadService(
                sp.GetRequiredService<ISystemdNotifier>(),
                reload ?? (root is null ? static () => { } : root.Reload),
                sp.GetRequiredService<ILogger<SighupReloadService>>());
        }));
        return services;
    }
}
