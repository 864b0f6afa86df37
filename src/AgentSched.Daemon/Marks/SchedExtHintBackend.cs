using AgentSched.Daemon.Scheduler;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Marks;

/// <summary>
/// Classes as agent_class hints: the hint record goes into the scheduler's task-storage map through
/// the entry's pidfd. In partial mode BURST and BATCH tasks are also moved to SCHED_EXT (policy 7),
/// since only those run on agent_class there; removing the mark restores their policy.
/// </summary>
internal sealed class SchedExtHintBackend(IBpfScheduler scheduler, bool partial, ILogger? logger = null) : IHintBackend
{
    public string Mode => "sched_ext";

    /// <summary>In partial mode a granted task would have to stay on SCHED_EXT between its steps,
    /// where it runs only when no fair-class task wants the CPU: no grants there.</summary>
    public string? SelfStepsUnavailable => partial
        ? "agent_class runs in partial mode, where a task between its own steps would run below every fair-class task: steps go through step_begin and step_end"
        : scheduler.SelfStepsUnavailable;

    public void Apply(MarkEntry entry, EffectiveHint hint)
    {
        scheduler.SetHint(entry.Handle, ToAgentHint(hint));
        if (!partial)
        {
            return;
        }
        if (hint.Class == TaskClass.Normal)
        {
            FallbackHintBackend.Restore(entry, logger);
            return;
        }
        FallbackHintBackend.ApplyEach(entry,
            original => original.Policy is SchedPolicy.Normal or SchedPolicy.Batch or SchedPolicy.Idle ? original with { Policy = SchedPolicy.Ext } : null,
            logger);
    }

    public void Remove(MarkEntry entry)
    {
        if (scheduler.IsAttached)
        {
            scheduler.ClearHint(entry.Handle);
        }
        FallbackHintBackend.Restore(entry, logger);
    }

    internal static AgentHint ToAgentHint(EffectiveHint hint) => new()
    {
        ClassId = (uint)hint.Class,
        HomeCpu = hint.HomeCpu ?? -1,
        WindowEndNs = hint.EndNs ?? 0,
        StepBudgetUs = (uint)(hint.BudgetUs ?? 0),
        Flags = hint.SelfWindowMs is null ? 0 : (uint)AgentHintFlags.SelfStep,
        SelfWindowMs = (uint)(hint.SelfWindowMs ?? 0),
        GrantSeq = hint.GrantSeq,
    };
}
