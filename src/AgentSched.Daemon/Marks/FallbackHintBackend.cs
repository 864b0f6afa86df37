using AgentSched.Interop;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;

namespace AgentSched.Daemon.Marks;

/// <summary>
/// Classes as EEVDF controls, for kernels without sched_ext or when the scheduler keeps failing
/// (docs/protocol.md, "Fallback mode"): BURST is nice -10 with a 1 ms slice request
/// (<c>sched_attr.sched_runtime</c>, honoured by EEVDF on 6.12+), BATCH is SCHED_BATCH at nice 10,
/// NORMAL is the task's own settings. Real-time and deadline tasks are left alone: they already
/// outrank every class. Every thread of a process is changed; threads created later inherit from
/// their creator, as the kernel does.
/// </summary>
internal sealed class FallbackHintBackend : IHintBackend
{
    public const int BurstNice = -10;
    public const int BatchNice = 10;
    public const ulong BurstSliceNs = 1_000_000;

    private const int ESRCH = 3;

    public string Mode => "fallback";

    public void Apply(MarkEntry entry, EffectiveHint hint)
    {
        foreach (int tid in entry.Threads())
        {
            try
            {
                if (!entry.Saved.TryGetValue(tid, out SchedAttr original))
                {
                    original = TaskScheduling.Get(tid);
                    entry.Saved[tid] = original;
                }
                if (Target(original, hint.Class) is { } target)
                {
                    TaskScheduling.Set(tid, target);
                }
            }
            catch (SyscallException e) when (e.Errno == ESRCH && tid != entry.Pid)
            {
                entry.Saved.Remove(tid); // a thread that exited while we walked the list
            }
        }
    }

    public void Remove(MarkEntry entry) => Restore(entry);

    /// <summary>Puts every thread back as it was before the daemon changed it; threads that exited are skipped.</summary>
    internal static void Restore(MarkEntry entry)
    {
        foreach ((int tid, SchedAttr original) in entry.Saved)
        {
            try
            {
                TaskScheduling.Set(tid, original);
            }
            catch (SyscallException e) when (e.Errno == ESRCH)
            {
            }
        }
        entry.Saved.Clear();
    }

    /// <summary>The attributes a thread gets for a class; null to leave it untouched (real-time and deadline tasks).</summary>
    internal static SchedAttr? Target(SchedAttr original, TaskClass c)
    {
        if (original.Policy is not (SchedPolicy.Normal or SchedPolicy.Batch or SchedPolicy.Idle or SchedPolicy.Ext))
        {
            return null;
        }
        return c switch
        {
            TaskClass.Burst => original with { Policy = SchedPolicy.Normal, Nice = Math.Min(original.Nice, BurstNice), RuntimeNs = BurstSliceNs },
            TaskClass.Batch => original with { Policy = SchedPolicy.Batch, Nice = Math.Max(original.Nice, BatchNice), RuntimeNs = 0 },
            _ => original,
        };
    }
}
