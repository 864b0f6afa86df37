namespace AgentSched.Protocol;

/// <summary>
/// One parsed and validated request. Which fields are set depends on <see cref="Op"/>;
/// <see cref="RequestParser"/> guarantees the ones an operation requires are present and in range.
/// </summary>
public sealed record ApiRequest(ApiOp Op)
{
    /// <summary>The request's <c>id</c> as raw JSON (a number or a string), echoed in the response; null when absent.</summary>
    public byte[]? IdJson { get; init; }

    /// <summary><c>pid</c>: the target of <c>mark</c>/<c>unmark</c> (a process), or of <c>steps</c> (a process or one thread).</summary>
    public int? Pid { get; init; }

    /// <summary><c>tid</c>: for <c>step_begin</c>/<c>step_end</c>/<c>step_grant</c>/<c>step_revoke</c>, one thread of the calling process instead of all of it.</summary>
    public int? Tid { get; init; }

    /// <summary><c>class</c> of a <c>mark</c>.</summary>
    public TaskClass? Class { get; init; }

    /// <summary><c>window_ms</c>: how long the mark or step lasts; null = until removed (mark) or the default (step).</summary>
    public int? WindowMs { get; init; }

    /// <summary><c>home_cpu</c>: the CPU BURST wakeups prefer; null = learned from where the task runs.</summary>
    public int? HomeCpu { get; init; }

    /// <summary><c>budget_us</c>: BURST CPU per step before demotion; null = the scheduler's default.</summary>
    public int? BudgetUs { get; init; }

    /// <summary><c>after_ns</c>: for <c>steps</c>, only steps that ended after this CLOCK_MONOTONIC time; null = all kept.</summary>
    public long? AfterNs { get; init; }
}
