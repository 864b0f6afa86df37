using AgentSched.Daemon.Scheduler;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon;

public static class AgentSchedServiceCollectionExtensions
{
    /// <summary>Registers the daemon's services and validated options.</summary>
    public static IServiceCollection AddAgentSched(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SchedulerOptions>()
            .Bind(configuration.GetSection(SchedulerOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SchedulerOptions>, SchedulerOptionsValidator>();
        services.TryAddSingleton<IBpfScheduler, KernelBpfScheduler>();
        services.TryAddSingleton<Func<SchedExtStatus>>(() => SchedExtStatus.Read());
        services.AddHostedService<SchedulerService>();
        return services;
    }
}
