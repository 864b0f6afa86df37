namespace AgentSched.Daemon.Scheduler;

/// <summary>
/// The agent_class scheduler as the daemon sees it. <see cref="KernelBpfScheduler"/> drives the real
/// kernel; host tests substitute a fake.
/// </summary>
public interface IBpfScheduler : IDisposable
{
    /// <summary>Opens, configures, loads and attaches the scheduler. Throws <see cref="AgentSched.Interop.BpfException"/>.</summary>
    void Attach(SchedulerOptions options);

    /// <summary>Detaches the scheduler and releases its programs and maps; a no-op when not attached.</summary>
    void Detach();

    bool IsAttached { get; }
}
