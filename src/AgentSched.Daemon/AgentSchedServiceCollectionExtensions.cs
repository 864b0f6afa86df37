using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.Metrics;
using AgentSched.Daemon.Scheduler;
using AgentSched.Daemon.State;
using AgentSched.Daemon.Systemd;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon;

public static class AgentSchedServiceCollectionExtensions
{
    /// <summary>
    /// Registers the daemon's services and validated options. Hosted services start in this order
    /// and stop in reverse: the scheduler (mode decided, backend chosen), the marks (persisted ones
    /// re-applied), then the socket, so a client never talks to a daemon that is not ready, and
    /// at a stop the socket closes first and the scheduler detaches last.
    /// </summary>
    /// <param name="settings">The configuration, checked by <see cref="DaemonConfiguration.Load"/>.</param>
    /// <param name="sources">Where a reload (SIGHUP) reads the configuration again.</param>
    internal static IServiceCollection AddAgentSched(this IServiceCollection services, DaemonSettings settings, Func<ConfigurationSources> sources)
    {
        // The options were bound and validated once, by DaemonConfiguration, before the host was
        // built. A reload (SIGHUP) goes through ConfigReloader, which checks the new configuration
        // the same way before it replaces anything, never through IOptionsMonitor.
        services.AddSingleton(settings);
        services.AddSingleton(Options.Create(settings.Scheduler));
        services.AddSingleton(Options.Create(settings.Api));
        services.AddSingleton(Options.Create(settings.State));
        services.AddSingleton(Options.Create(settings.Metrics));
        services.AddSingleton(Options.Create(settings.Logging));
        services.AddSingleton(new LiveOptions<ApiOptions>(settings.Api));
        services.AddSingleton(sources);
        services.AddSingleton<ConfigReloader>();

        services.TryAddSingleton<IBpfScheduler, KernelBpfScheduler>();
        services.TryAddSingleton<Func<SchedExtStatus>>(() => SchedExtStatus.Read());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<MarkRegistry>();
        services.AddSingleton<MarkStore>();
        services.AddSingleton<ApiCounters>();
        services.AddSingleton<StepsQuery>();
        services.AddSingleton<RequestHandler>();
        services.AddSingleton<SchedulerSupervisor>();
        services.AddSingleton<MarkService>();
        services.AddSingleton<ApiServer>();
        services.AddSingleton<DaemonMetrics>();
        services.AddSingleton<PrometheusExporter>();
        services.AddSingleton<MetricsServer>();

        services.AddHostedService(sp => sp.GetRequiredService<SchedulerSupervisor>());
        services.AddHostedService(sp => sp.GetRequiredService<MarkService>());
        services.AddHostedService(sp => sp.GetRequiredService<ApiServer>());
        services.AddHostedService(sp => sp.GetRequiredService<MetricsServer>());

        // systemd: READY=1 once all of the above started, STOPPING=1, SIGHUP as a reload, and
        // watchdog pings while the scheduler supervisor's loop keeps turning.
        services.AddSingleton<SystemdHealthCheck>(sp => sp.GetRequiredService<SchedulerSupervisor>().IsResponsive);
        services.AddSystemdNotify();
        return services;
    }
}
