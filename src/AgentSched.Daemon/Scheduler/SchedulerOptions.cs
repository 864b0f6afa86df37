using AgentSched.Interop.Scheduler;
using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Scheduler;

/// <summary>How the daemon chooses between sched_ext and fallback (EEVDF controls).</summary>
public enum SchedulerMode
{
    /// <summary>sched_ext when the kernel has it and the scheduler attaches; fallback otherwise.</summary>
    Auto,

    /// <summary>sched_ext or nothing: the daemon exits when it cannot attach (codes 3, 4, 5).</summary>
    SchedExt,

    /// <summary>Never load the scheduler: classes map to nice, SCHED_BATCH and slice hints.</summary>
    Fallback,
}

/// <summary>The "Scheduler" configuration section.</summary>
public sealed class SchedulerOptions
{
    public const string Section = "Scheduler";

    /// <summary>agent_class's own defaults (AbiTests checks them against the object's .rodata).</summary>
    private static readonly AgentClassTunables s_defaults = new();

    /// <summary><c>auto</c>, <c>sched_ext</c> or <c>fallback</c>; see <see cref="SchedulerMode"/>.</summary>
    public string Mode { get; set; } = "auto";

    internal SchedulerMode ParsedMode => Mode.ToLowerInvariant() switch
    {
        "sched_ext" => SchedulerMode.SchedExt,
        "fallback" => SchedulerMode.Fallback,
        _ => SchedulerMode.Auto,
    };

    /// <summary>Time slice of BURST and NORMAL tasks, in microseconds (BPF: slice_ns).</summary>
    public int SliceUs { get; set; } = s_defaults.SliceUs;

    /// <summary>BATCH tasks get SliceUs times this (BPF: batch_slice_mult).</summary>
    public int BatchSliceMultiplier { get; set; } = s_defaults.BatchSliceMultiplier;

    /// <summary>BURST CPU per step before demotion to NORMAL (BPF: step_budget_ns).</summary>
    public int StepBudgetUs { get; set; } = s_defaults.StepBudgetUs;

    /// <summary>The BURST credit period (BPF: credit_period_ns).</summary>
    public int CreditPeriodMs { get; set; } = s_defaults.CreditPeriodMs;

    /// <summary>The share of one CPU a task may use as BURST per credit period (BPF: credit_share_pct).</summary>
    public int CreditSharePercent { get; set; } = s_defaults.CreditSharePercent;

    /// <summary>Starvation bound for NORMAL and BATCH (BPF: starve_ns).</summary>
    public int StarveMs { get; set; } = s_defaults.StarveMs;

    /// <summary>Anti-migration window after a BURST placement (BPF: antimig_ns).</summary>
    public int AntiMigrationUs { get; set; } = s_defaults.AntiMigrationUs;

    /// <summary>Partial mode: only SCHED_EXT tasks (the marked ones) run on agent_class.</summary>
    public bool Partial { get; set; }

    /// <summary>Record the steps of marked tasks: step histograms, step metrics and <c>agentsched trace</c> (BPF: trace_steps).</summary>
    public bool TraceSteps { get; set; } = s_defaults.TraceSteps;

    /// <summary>bpffs directory where the attached scheduler's link and maps are pinned.</summary>
    public string PinPath { get; set; } = "/sys/fs/bpf/agentsched";

    /// <summary>Re-attach attempts after ejections allowed within <see cref="FailureWindowMinutes"/> before staying in fallback.</summary>
    public int MaxReattachAttempts { get; set; } = 5;

    /// <summary>The window over which re-attach attempts are counted.</summary>
    public int FailureWindowMinutes { get; set; } = 10;

    /// <summary>The first re-attach delay after an ejection; it doubles per attempt up to <see cref="ReattachMaxDelayMs"/>.</summary>
    public int ReattachInitialDelayMs { get; set; } = 500;

    /// <summary>The longest re-attach delay.</summary>
    public int ReattachMaxDelayMs { get; set; } = 30_000;

    /// <summary>Load this BPF object file instead of the one built into agentschedd (for development).</summary>
    public string? ObjectPath { get; set; }

    internal AgentClassTunables Tunables => new()
    {
        SliceUs = SliceUs,
        BatchSliceMultiplier = BatchSliceMultiplier,
        StepBudgetUs = StepBudgetUs,
        CreditPeriodMs = CreditPeriodMs,
        CreditSharePercent = CreditSharePercent,
        StarveMs = StarveMs,
        AntiMigrationUs = AntiMigrationUs,
        Partial = Partial,
        TraceSteps = TraceSteps,
    };
}

internal sealed class SchedulerOptionsValidator : IValidateOptions<SchedulerOptions>
{
    public ValidateOptionsResult Validate(string? name, SchedulerOptions o)
    {
        var errors = new List<string>();
        void Range(string key, int value, int min, int max, string unit = "")
        {
            if (value < min || value > max)
            {
                errors.Add($"Scheduler:{key} must be between {min} and {max}{unit} (got {value})");
            }
        }
        if (o.Mode?.ToLowerInvariant() is not ("auto" or "sched_ext" or "fallback"))
        {
            errors.Add($"Scheduler:Mode must be auto, sched_ext or fallback (got '{o.Mode}')");
        }
        Range("SliceUs", o.SliceUs, 100, 1_000_000, " microseconds");
        Range("BatchSliceMultiplier", o.BatchSliceMultiplier, 1, 64);
        Range("StepBudgetUs", o.StepBudgetUs, 100, 1_000_000, " microseconds");
        Range("CreditPeriodMs", o.CreditPeriodMs, 10, 10_000, " milliseconds");
        Range("CreditSharePercent", o.CreditSharePercent, 1, 100, " percent");
        Range("StarveMs", o.StarveMs, 5, 10_000, " milliseconds");
        Range("AntiMigrationUs", o.AntiMigrationUs, 0, 100_000, " microseconds");
        Range("MaxReattachAttempts", o.MaxReattachAttempts, 0, 1000);
        Range("FailureWindowMinutes", o.FailureWindowMinutes, 1, 24 * 60, " minutes");
        Range("ReattachInitialDelayMs", o.ReattachInitialDelayMs, 10, 600_000, " milliseconds");
        Range("ReattachMaxDelayMs", o.ReattachMaxDelayMs, o.ReattachInitialDelayMs, 3_600_000, " milliseconds");
        if (string.IsNullOrWhiteSpace(o.PinPath) || !Path.IsPathRooted(o.PinPath))
        {
            errors.Add($"Scheduler:PinPath must be an absolute path on a bpffs (got '{o.PinPath}')");
        }
        else if (Path.GetFileName(o.PinPath.TrimEnd('/')).Contains('.'))
        {
            errors.Add($"Scheduler:PinPath must not contain '.' in its last name: bpffs refuses such names (got '{o.PinPath}')");
        }
        if (o.ObjectPath is { Length: > 0 } path && !File.Exists(path))
        {
            errors.Add($"Scheduler:ObjectPath '{path}' does not exist");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
