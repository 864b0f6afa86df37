using System.Collections.Immutable;
using AgentSched.Interop.Scheduler;

namespace AgentSched.Daemon.Scheduler;

/// <summary>One read of the attached scheduler's per-CPU counters and wait histograms.</summary>
public sealed record SchedulerReading(IReadOnlyDictionary<AgentSched.Interop.Abi.AgentStat, ulong> Stats, AgentLatencySnapshot Latency, AgentStepSnapshot Steps);

/// <summary>An ejection of the scheduler by the kernel, as the daemon saw it.</summary>
public sealed record Ejection(DateTimeOffset At, SchedulerExit Exit);

/// <summary>
/// What the daemon is doing about scheduling, for <c>status</c> and metrics. Immutable; the
/// supervisor replaces it on every state change.
/// </summary>
/// <param name="Mode">"sched_ext" (agent_class attached) or "fallback" (EEVDF controls).</param>
/// <param name="Reason">Why this mode, in one sentence.</param>
/// <param name="Healthy">False when the daemon is not in the mode it was configured for (load failures, repeated ejections).</param>
/// <param name="Since">When this state began.</param>
public sealed record SchedulerState(
    string Mode,
    string Reason,
    bool Healthy,
    DateTimeOffset Since,
    bool Partial,
    long? EnableSeq,
    int Attaches,
    int Ejections,
    Ejection? LastEjection)
{
    /// <summary>Ejections since the daemon started, by the kernel's exit kind (e.g. SCX_EXIT_SYSRQ).</summary>
    public ImmutableDictionary<string, int> EjectionsByKind { get; init; } = ImmutableDictionary<string, int>.Empty;

    public static SchedulerState Starting { get; } =
        new("fallback", "starting", true, DateTimeOffset.UtcNow, false, null, 0, 0, null);
}
