namespace AgentSched.Daemon.Marks;

/// <summary>
/// Turns a mark into scheduling: hints in agent_class's map (<see cref="SchedExtHintBackend"/>) or
/// EEVDF controls (<see cref="FallbackHintBackend"/>). Called under the registry's lock.
/// </summary>
internal interface IHintBackend
{
    /// <summary>"sched_ext" or "fallback".</summary>
    string Mode { get; }

    /// <summary>Why tasks cannot open their own steps (step_grant) now; null when they can.</summary>
    string? SelfStepsUnavailable { get; }

    /// <summary>Makes the entry's task run as <paramref name="hint"/> asks. Throws <see cref="AgentSched.Interop.SyscallException"/>
    /// or <see cref="AgentSched.Interop.BpfException"/>; ESRCH means the task has exited.</summary>
    void Apply(MarkEntry entry, EffectiveHint hint);

    /// <summary>Undoes everything <see cref="Apply"/> did to a living task (best effort for threads that exited).</summary>
    void Remove(MarkEntry entry);
}
