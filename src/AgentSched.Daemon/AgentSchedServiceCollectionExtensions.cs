using AgentSched.Daemon.Api;
using AgentSched.Daemon.Configuration;
using AgentSched.Daemon.Marks;
using AgentSched.Daemon.Metrics;
using AgentSched.Daemon.Scheduler;
using AgentSched.Daemon.State;
using AgentSched.Daemon.Systemd;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.Configuration;
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
    public static IServiceCollection AddAgentSched(this IServiceCollection services, IConfiguration configuration)
    {
        // Bound once, without change tracking: a reload (SIGHUP) goes through ConfigReloader, which
        // validates before it replaces anything, never through IOptionsMonitor.
        services.AddOptions<SchedulerOptions>().Configure(o => configuration.GetSection(SchedulerOptions.Section).Bind(o)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SchedulerOptions>, SchedulerOptionsValidator>();
        services.AddOptions<ApiOptions>().Configure(o => configuration.GetSection(ApiOptions.Section).Bind(o)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();
        services.AddOptions<StateOptions>().Configure(o => configuration.GetSection(StateOptions.Section).Bind(o)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<StateOptions>, StateOptionsValidator>();
        services.AddOptions<MetricsOptions>().Configure(o => configuration.GetSection(MetricsOptions.Section).Bind(o)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<MetricsOptions>, MetricsOptionsValidator>();

        services.AddSingleton(sp => new LiveOptions<ApiOptions>(sp.GetRequiredService<IOptions<ApiOptions>>().Value));
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

    /// <summary>
    /// Validates every options section at once, so a bad configuration is reported in full, one line
    /// per problem, before any service (the socket binds early) reads it. Throws an
    /// <see cref="AggregateException"/> of <see cref="OptionsValidationException"/>s.
    /// </summary>
    public static void ValidateAllOptions(IServiceProvider services)
    {
        var failures = new List<OptionsValidationException>();
        void Check(Func<object> read)
        {
            try
            {
                _ = read();
            }
            catch (OptionsValidationException e)
            {
                failures.Add(e);
            }
        }
        Check(() => services.GetRequiredService<IOptions<SchedulerOptions>>().Value);
        Check(() => services.GetRequiredService<IOptions<ApiOptions>>().Value);
        Check(() => services.GetRequiredService<IOptions<MetricsOptions>>().Value);
        Check(() => services.GetRequiredService<IOptions<StateOptions>>().Value);
        if (failures.Count > 0)
        {
            throw new AggregateException(failures);
        }
    }
}
