namespace AgentSched.Interop.Abi;

// The C# twin of bpf/intf.h. AbiTests compares every enum and struct here with the BTF of the
// built object, so these cannot drift from the BPF side unnoticed. Names map mechanically:
// AGENT_STAT_DISPATCH_BURST <-> AgentStat.DispatchBurst, class_id <-> ClassId.

/// <summary><c>enum agent_abi</c>.</summary>
public static class AgentAbi
{
    public const int Version = 2;

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

/// <summary><c>struct agent_hint</c>: a value of the <c>hints</c> task-storage map.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct AgentHint
{
    public uint ClassId;
    public int HomeCpu;
    public ulong WindowEndNs;
    public uint StepBudgetUs;
    public uint Flags;
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
