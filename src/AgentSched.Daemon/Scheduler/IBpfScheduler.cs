using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;

namespace AgentSched.Daemon.Scheduler;

/// <summary>What <see cref="IBpfScheduler.TryAdopt"/> found in the pin directory.</summary>
/// <param name="Adopted">A pinned agent_class of this build and these tunables is attached, and is now ours.</param>
/// <param name="Replaced">Pins of another build or other tunables that were removed (detaching that scheduler).</param>
/// <param name="EjectedWhileAway">The pinned scheduler of this build had been ejected before we looked; why.</param>
public sealed record AdoptResult(bool Adopted, IReadOnlyList<string> Replaced, SchedulerExit? EjectedWhileAway);

/// <summary>
/// The agent_class scheduler as the daemon sees it. <see cref="KernelBpfScheduler"/> drives the real
/// kernel; host tests substitute a fake. Every member is safe to call from any thread.
/// </summary>
public interface IBpfScheduler : IDisposable
{
    bool IsAttached { get; }

    /// <summary>Why granted tasks cannot open their own steps now (not attached, or no self-step program); null when they can.</summary>
    string? SelfStepsUnavailable { get; }

    /// <summary>The pin directory of this build and these tunables (under Scheduler:PinPath).</summary>
    string PinDirectory(SchedulerOptions options);

    /// <summary>Takes over a pinned, attached agent_class of the same build, so a restarted daemon causes no detach/attach gap.</summary>
    AdoptResult TryAdopt(SchedulerOptions options);

    /// <summary>Opens, configures, loads, attaches and pins the scheduler, reusing the pinned hint map if there is one.
    /// Throws <see cref="AgentSched.Interop.BpfException"/>.</summary>
    void Attach(SchedulerOptions options);

    /// <summary>Releases a scheduler the kernel ejected, keeping the pinned hint map for the next <see cref="Attach"/>.</summary>
    void ReleaseEjected();

    /// <summary>Unpins and releases everything: the kernel detaches the scheduler. A no-op when not attached.</summary>
    void Detach();

    /// <summary>Why the kernel ended the scheduler, from its exit_info map; null while it runs or when unknown.</summary>
    SchedulerExit? ReadExit();

    void SetHint(ProcessHandle process, AgentHint hint);

    void ClearHint(ProcessHandle process);

    IReadOnlyDictionary<AgentStat, ulong> ReadStats();

    AgentLatencySnapshot ReadLatency();

    /// <summary>The per-class step histograms and counters.</summary>
    AgentStepSnapshot ReadStepStats();

    /// <summary>One thread's recent steps; null when none were recorded for it.</summary>
    TaskSteps? ReadSteps(ProcessHandle thread);
}
