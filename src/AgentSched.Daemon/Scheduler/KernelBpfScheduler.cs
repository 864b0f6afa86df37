using AgentSched.Interop.Scheduler;

namespace AgentSched.Daemon.Scheduler;

/// <summary>Loads agent_class with libbpf and attaches it as the kernel's sched_ext scheduler.</summary>
public sealed class KernelBpfScheduler : IBpfScheduler
{
    private AgentClassScheduler? _scheduler;

    public bool IsAttached => _scheduler is { IsAttached: true };

    public void Attach(SchedulerOptions options)
    {
        if (IsAttached)
        {
            throw new InvalidOperationException("the scheduler is already attached");
        }
        var tunables = new AgentClassTunables { SliceUs = options.SliceUs, BatchSliceMultiplier = options.BatchSliceMultiplier };
        AgentClassScheduler scheduler = AgentClassScheduler.Load(tunables, options.ObjectPath);
        try
        {
            scheduler.Attach();
            _scheduler = scheduler;
        }
        catch
        {
            scheduler.Dispose();
            throw;
        }
    }

    public void Detach()
    {
        _scheduler?.Dispose();
        _scheduler = null;
    }

    public void Dispose() => Detach();
}
