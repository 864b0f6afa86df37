namespace AgentSched.Interop.Scheduler;

/// <summary>agent_class's .rodata tunables and mode; the defaults are the BPF program's (its top comment).</summary>
public sealed record AgentClassTunables
{
    public int SliceUs { get; init; } = 3000;
    public int BatchSliceMultiplier { get; init; } = 4;
    public int StepBudgetUs { get; init; } = 8000;
    public int CreditPeriodMs { get; init; } = 100;
    public int CreditSharePercent { get; init; } = 50;
    public int StarveMs { get; init; } = 100;
    public int AntiMigrationUs { get; init; } = 500;

    /// <summary>Record the steps of marked tasks (histograms and per-task rings); off compiles that code out at load.</summary>
    public bool TraceSteps { get; init; } = true;

    /// <summary>Partial mode (SCX_OPS_SWITCH_PARTIAL): only SCHED_EXT tasks run on agent_class.</summary>
    public bool Partial { get; init; }
}
