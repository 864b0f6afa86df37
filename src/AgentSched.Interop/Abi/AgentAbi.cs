namespace AgentSched.Interop.Abi;

// The C# twin of bpf/intf.h. AbiTests compares every enum and struct here with the BTF of the
// built object, so these cannot drift from the BPF side unnoticed. Names map mechanically:
// AGENT_STAT_DISPATCH_BURST <-> AgentStat.DispatchBurst, class_id <-> ClassId.

/// <summary><c>enum agent_abi</c>.</summary>
public static class AgentAbi
{
    public const int Version = 6;

    /// <summary><c>AGENT_NR_CLASSES</c>: the number of <see cref="AgentClass"/> values.</summary>
    public const int NrClasses = 3;
}

/// <summary><c>enum agent_class_id</c>: the scheduling class a hint asks for.</summary>
public enum AgentClass : uint
{
    Normal = 0,
    Burst = 1,
    Batch = 2,
}

/// <summary><c>enum agent_dsq_id</c>: the scheduler's dispatch queues.</summary>
public enum AgentDsq : ulong
{
    Burst = 0,
    Normal = 1,
    Batch = 2,
}

/// <summary><c>enum agent_stat_idx</c>: the per-CPU counters of the <c>stats</c> map.</summary>
public enum AgentStat
{
    DispatchBurst,
    DispatchNormal,
    DispatchBatch,
    DirectIdle,
    KickPreempt,
    DemoteStep,
    DemotePeriod,
    StarveDispatch,
    MigrateInWindow,
    WindowExpired,
    Inherited,
    BatchYield,
    SelfStep,
    SelfStepDenied,

    /// <summary>A gauge: tasks runnable as NORMAL now (meaningful only summed over CPUs).</summary>
    RunnableNormal,

    /// <summary>A gauge: tasks runnable as BURST now.</summary>
    RunnableBurst,

    /// <summary>A gauge: tasks runnable as BATCH now.</summary>
    RunnableBatch,
}

/// <summary><c>enum agent_limits</c>.</summary>
public static class AgentLimits
{
    public const int MaxCpus = 1024;
}

/// <summary><c>enum agent_latency_sizes</c>.</summary>
public static class AgentLatencySizes
{
    public const int Buckets = 32;
}

/// <summary><c>struct agent_latency</c>: per-class queue-wait histograms (log2 ns buckets), maxima and sums.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct AgentLatency
{
    public fixed ulong Buckets[AgentAbi.NrClasses * AgentLatencySizes.Buckets];
    public fixed ulong MaxWaitNs[AgentAbi.NrClasses];
    public fixed ulong WaitSumNs[AgentAbi.NrClasses];
}

/// <summary><c>enum agent_exit_sizes</c>.</summary>
public static class AgentExitSizes
{
    public const int ReasonLen = 128;
    public const int MsgLen = 1024;
}

/// <summary><c>enum agent_hint_flags</c>: <see cref="AgentHint.Flags"/>.</summary>
[Flags]
public enum AgentHintFlags : uint
{
    /// <summary>A grant: the task (on a leader's hint, its whole process) may open its own steps with <see cref="AgentSelfStep.PrctlStep"/>.</summary>
    SelfStep = 1 << 0,
}

/// <summary><c>struct agent_hint</c>: a value of the <c>hints</c> task-storage map.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct AgentHint
{
    public uint ClassId;
    public int HomeCpu;
    public ulong WindowEndNs;
    public uint StepBudgetUs;
    public uint Flags;
    public uint SelfWindowMs;
    public uint GrantSeq;
}

/// <summary>
/// <c>enum agent_self_step</c>: <c>prctl(PrctlStep, op, window_ms, 0, 0)</c> opens or closes a
/// granted task's own step window; it returns <see cref="StepDone"/>, or fails with EPERM (no grant)
/// or EINVAL (agent_class is not attached).
/// </summary>
public enum AgentSelfStep
{
    PrctlStep = 0x41475354,
    StepClose = 0,
    StepOpen = 1,
    StepOpenProcess = 2,
    StepCloseProcess = 3,
    StepDone = 1,
}

/// <summary><c>struct agent_exit_info</c>: why the scheduler last left the kernel.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct AgentExitInfo
{
    public int Kind;
    public int ExitCpu;
    public long ExitCode;
    public fixed byte Reason[AgentExitSizes.ReasonLen];
    public fixed byte Msg[AgentExitSizes.MsgLen];
}

/// <summary><c>enum agent_step_sizes</c>.</summary>
public static class AgentStepSizes
{
    /// <summary>Steps kept in a task's ring (a power of two).</summary>
    public const int RingLen = 32;
}

/// <summary><c>enum agent_step_time</c>: what a step's time is split into.</summary>
public enum AgentStepTime
{
    /// <summary>Became runnable → blocked (wall time).</summary>
    Total,

    /// <summary>Runnable but not on a CPU, summed over the step.</summary>
    Wait,

    /// <summary>On a CPU.</summary>
    Run,
}

/// <summary><c>enum agent_step_flags</c>: <see cref="AgentStep.Flags"/>.</summary>
[Flags]
public enum AgentStepFlags : byte
{
    /// <summary>Every run of the step was on the task's home CPU.</summary>
    Home = 1,

    /// <summary>A budget demoted the task to NORMAL during the step.</summary>
    Demoted = 2,
}

/// <summary><c>struct agent_step_stats</c>: per-class step histograms (log2 ns buckets) and counters.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct AgentStepStats
{
    public const int Times = 3;

    public fixed ulong Buckets[AgentAbi.NrClasses * Times * AgentLatencySizes.Buckets];
    public fixed ulong SumNs[AgentAbi.NrClasses * Times];
    public fixed ulong Steps[AgentAbi.NrClasses];
    public fixed ulong Migrations[AgentAbi.NrClasses];
    public fixed ulong Preemptions[AgentAbi.NrClasses];
    public fixed ulong HomeHits[AgentAbi.NrClasses];
}

/// <summary><c>struct agent_step</c>: one finished step in a task's ring.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct AgentStep
{
    public ulong Seq;
    public ulong EndNs;
    public ulong TotalNs;
    public ulong WaitNs;
    public ulong RunNs;
    public int Cpu;
    public int HomeCpu;
    public ushort Migrations;
    public ushort Preemptions;
    public byte ClassId;
    public byte Flags;
    public fixed byte Pad[2];
}

/// <summary><c>struct agent_step_ring</c>: a value of the <c>step_rings</c> task-storage map
/// (<see cref="Lock"/> is the BPF spin lock; read the value with BPF_F_LOCK).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct AgentStepRing
{
    public uint Lock;
    public uint Pad;
    public ulong Steps;
    public fixed byte Ring[AgentStepSizes.RingLen * 56];
}
