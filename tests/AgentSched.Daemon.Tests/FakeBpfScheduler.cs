using AgentSched.Daemon.Scheduler;
using AgentSched.Interop.Abi;
using AgentSched.Interop.Kernel;
using AgentSched.Interop.Scheduler;

namespace AgentSched.Daemon.Tests;

/// <summary>Stands in for the kernel: records calls, fails Attach with queued exceptions, can pretend to be ejected.</summary>
internal sealed class FakeBpfScheduler(params Exception[] attachFailures) : IBpfScheduler
{
    private readonly Queue<Exception> _failures = new(attachFailures);

    /// <summary>Makes the next Attach calls fail with these exceptions, in order.</summary>
    public void FailNextAttaches(params Exception[] failures)
    {
        foreach (Exception e in failures) _failures.Enqueue(e);
    }

    public SchedulerOptions? AttachedWith { get; private set; }

    public int Attaches { get; private set; }

    public int AttachCalls { get; private set; }

    public int Detaches { get; private set; }

    public int Releases { get; private set; }

    public bool Adoptable { get; set; }

    public SchedulerExit? Exit { get; set; }

    public Dictionary<int, AgentHint> Hints { get; } = [];

    public bool IsAttached { get; private set; }

    /// <summary>What <see cref="IBpfScheduler.SelfStepsUnavailable"/> answers while attached; null: self-steps work.</summary>
    public string? SelfStepsMissing { get; set; }

    public string? SelfStepsUnavailable => IsAttached ? SelfStepsMissing : "agent_class is not attached";

    public string PinDirectory(SchedulerOptions options) => Path.Combine(options.PinPath, "fake");

    public AdoptResult TryAdopt(SchedulerOptions options)
    {
        if (Adoptable)
        {
            IsAttached = true;
            AttachedWith = options;
        }
        return new AdoptResult(Adoptable, [], null);
    }

    public void Attach(SchedulerOptions options)
    {
        AttachCalls++;
        if (_failures.TryDequeue(out Exception? failure))
        {
            throw failure;
        }
        AttachedWith = options;
        IsAttached = true;
        Exit = null;
        Attaches++;
    }

    public void ReleaseEjected()
    {
        Releases++;
        IsAttached = false;
    }

    public void Detach()
    {
        if (IsAttached)
        {
            Detaches++;
        }
        IsAttached = false;
    }

    public SchedulerExit? ReadExit() => Exit;

    public void SetHint(ProcessHandle process, AgentHint hint) => Hints[process.Pid] = hint;

    public void ClearHint(ProcessHandle process) => Hints.Remove(process.Pid);

    public IReadOnlyDictionary<AgentStat, ulong> ReadStats() => Enum.GetValues<AgentStat>().ToDictionary(s => s, _ => 0UL);

    public AgentLatencySnapshot ReadLatency() => throw new NotSupportedException();

    public AgentStepSnapshot ReadStepStats() => throw new NotSupportedException();

    /// <summary>What <see cref="ReadSteps"/> answers, by thread id.</summary>
    public Dictionary<int, TaskSteps> Steps { get; } = [];

    public TaskSteps? ReadSteps(ProcessHandle thread) => Steps.GetValueOrDefault(thread.Pid);

    public void Dispose() => IsAttached = false;
}
