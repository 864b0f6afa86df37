using Microsoft.Extensions.Options;

namespace AgentSched.Daemon.Scheduler;

/// <summary>The "Scheduler" configuration section.</summary>
public sealed class SchedulerOptions
{
    public const string Section = "Scheduler";

    /// <summary>Time slice of BURST and NORMAL tasks, in microseconds (BPF: slice_ns).</summary>
    public int SliceUs { get; set; } = 3000;

    /// <summary>BATCH tasks get SliceUs times this (BPF: batch_slice_mult).</summary>
    public int BatchSliceMultiplier { get; set; } = 4;

    /// <summary>Load this BPF object file instead of the one built into agentschedd (for development).</summary>
    public string? ObjectPath { get; set; }
}

internal sealed class SchedulerOptionsValidator : IValidateOptions<SchedulerOptions>
{
    public ValidateOptionsResult Validate(string? name, SchedulerOptions o)
    {
        var errors = new List<string>();
        if (o.SliceUs is < 100 or > 1_000_000)
        {
            errors.Add($"Scheduler:SliceUs must be between 100 and 1000000 microseconds (got {o.SliceUs})");
        }
        if (o.BatchSliceMultiplier is < 1 or > 64)
        {
            errors.Add($"Scheduler:BatchSliceMultiplier must be between 1 and 64 (got {o.BatchSliceMultiplier})");
        }
        if (o.ObjectPath is { Length: > 0 } path && !File.Exists(path))
        {
            errors.Add($"Scheduler:ObjectPath '{path}' does not exist");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
