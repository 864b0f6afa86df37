using AgentSched.Daemon.Scheduler;

namespace AgentSched.Daemon.Tests;

/// <summary>Stands in for the kernel: records calls, or fails Attach with a given exception.</summary>
internal sealed class FakeBpfScheduler(Exception? attachFailure = null) : IBpfScheduler
{
    public SchedulerOptions? AttachedWith { get; private set; }

    public int Detaches { get; private set; }

    public bool IsAttached { get; private set; }

    public void Attach(SchedulerOptions options)
    {
        if (attachFailure is not null)
        {
            throw attachFailure;
        }
        AttachedWith = options;
        IsAttached = true;
    }

    public void Detach()
    {
        Detaches++;
        IsAttached = false;
    }

    public void Dispose() => Detach();
}
