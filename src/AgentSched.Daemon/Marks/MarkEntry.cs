using AgentSched.Interop.Kernel;
using AgentSched.Protocol;

namespace AgentSched.Daemon.Marks;

/// <summary>The class a mark entry asks for right now, after its windows are taken into account.</summary>
/// <param name="EndNs">CLOCK_MONOTONIC end of the window that grants it; null = no window.</param>
/// <param name="SelfWindowMs">With a self-step grant: the longest window the task may open itself; null = no grant.</param>
/// <param name="GrantSeq">With a self-step grant: its number (bpf/intf.h, agent_hint.grant_seq).</param>
internal readonly record struct EffectiveHint(TaskClass Class, ulong? EndNs, int? HomeCpu, int? BudgetUs, int? SelfWindowMs = null, uint GrantSeq = 0);

/// <summary>A grant of self-steps (step_grant): the task opens its own BURST windows of up to <paramref name="WindowMs"/>.</summary>
/// <param name="BudgetUs">BURST CPU per step before demotion; null: the mark's, or the scheduler's default.</param>
/// <param name="Seq">The grant's number: a window the task opened under another grant is void in the scheduler.
/// Random and non-zero, so that a renewed grant (or one after a daemon restart) never takes an old number.</param>
internal readonly record struct StepGrant(int WindowMs, int? BudgetUs, uint Seq)
{
    public static uint NewSeq() => (uint)System.Security.Cryptography.RandomNumberGenerator.GetInt32(1, int.MaxValue);
}

/// <summary>A thread's scheduling before the daemon first changed it, and the start time that tells it from a later thread with the same tid.</summary>
internal readonly record struct SavedThread(ulong StartTime, SchedAttr Attr);

/// <summary>The standing mark and the open step of one task.</summary>
/// <param name="Class">The standing mark's class; null when only a step is open.</param>
/// <param name="EndNs">The standing mark's window end; null = until unmarked.</param>
/// <param name="StepEndNs">The end of the window step_begin opened; null when no step is open.</param>
/// <param name="Grant">The task may open its own steps (step_grant); null when it may not.</param>
internal readonly record struct MarkState(
    TaskClass? Class, ulong? EndNs, int? HomeCpu, int? BudgetUs, ulong? StepEndNs, int? StepBudgetUs, StepGrant? Grant = null)
{
    /// <summary>
    /// What the task gets now. A grant alone keeps the entry (NORMAL between the task's own steps);
    /// its budget applies to every BURST run of the hint, as the scheduler has one budget per hint.
    /// </summary>
    public EffectiveHint? EffectiveAt(ulong nowNs)
    {
        int? self = Grant?.WindowMs, budget = Grant?.BudgetUs ?? BudgetUs;
        uint seq = Grant?.Seq ?? 0;
        if (StepEndNs is { } stepEnd && stepEnd > nowNs)
        {
            return new EffectiveHint(TaskClass.Burst, stepEnd, HomeCpu, StepBudgetUs ?? budget, self, seq);
        }
        if (Class is { } c && (EndNs is null || EndNs > nowNs))
        {
            return new EffectiveHint(c, EndNs, HomeCpu, budget, self, seq);
        }
        return Grant is not null ? new EffectiveHint(TaskClass.Normal, null, HomeCpu, budget, self, seq) : null;
    }

    /// <summary>Counts against the per-uid BURST limit: BURST now, or able to make itself BURST at any time.</summary>
    public bool CountsAsBurst(ulong nowNs) => Grant is not null || EffectiveAt(nowNs)?.Class == TaskClass.Burst;

    /// <summary>The earliest window end still ahead, for the expiry timer.</summary>
    public ulong? NextDeadline(ulong nowNs)
    {
        ulong? next = null;
        if (StepEndNs is { } s && s > nowNs) next = s;
        if (EndNs is { } e && e > nowNs && (next is null || e < next)) next = e;
        return next;
    }
}

/// <summary>
/// One marked task: a process (its thread-group leader's pid) or, for a step opened on one thread,
/// that thread. It holds a pidfd for as long as it exists, so every later action reaches the same
/// task even if the pid is reused after the task exits. Guarded by the <see cref="MarkRegistry"/> lock.
/// </summary>
internal sealed class MarkEntry(ProcessHandle handle, ProcessInfo info, bool isThread, uint requesterUid) : IDisposable
{
    public ProcessHandle Handle { get; } = handle;

    public int Pid => Info.Pid;

    public ProcessInfo Info { get; } = info;

    /// <summary>A single thread (a step opened with a tid) rather than a whole process.</summary>
    public bool IsThread { get; } = isThread;

    /// <summary>The uid whose BURST limit this entry counts against.</summary>
    public uint RequesterUid { get; set; } = requesterUid;

    /// <summary>What was asked of this task; replaced as a whole, so a failed change rolls back by assignment.</summary>
    public MarkState State { get; set; }

    /// <summary>
    /// Each thread's scheduling before the daemon first changed it, by tid, for restoring. A thread is
    /// only ever acted on as the <see cref="ThreadRef"/> its start time names, never by tid alone.
    /// </summary>
    public Dictionary<int, SavedThread> Saved { get; } = [];

    /// <summary>
    /// The (policy, nice) pairs the daemon gave this entry's threads since <see cref="Saved"/> was
    /// filled: what a thread created meanwhile inherits. Not persisted: empty after a restart.
    /// </summary>
    public HashSet<(SchedPolicy Policy, int Nice)> Applied { get; } = [];

    /// <summary>
    /// The kernel's last pid (<see cref="ProcessTree.LastPid"/>) just before the daemon first changed
    /// this entry's threads: the processes it forks after that have higher pids (fallback mode puts
    /// them back when the mark ends). Null when unknown (after a restart): then all of /proc is looked at.
    /// </summary>
    public int? PidWatermark { get; set; }

    /// <summary>What the entry asks for at <paramref name="nowNs"/>; null when nothing is left (the entry can go).</summary>
    public EffectiveHint? EffectiveAt(ulong nowNs) => State.EffectiveAt(nowNs);

    /// <summary>The threads the entry covers: itself, or every thread of its process.</summary>
    public IReadOnlyList<int> Threads() => IsThread ? [Pid] : Handle.ThreadIds();

    public void Dispose() => Handle.Dispose();
}
