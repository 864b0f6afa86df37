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
/// their creator, as the kernel does, and are put back with the rest when the mark ends.
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
        SchedAttr? main = MainBefore(entry);
        foreach (int tid in entry.Threads())
        {
            try
            {
                SchedAttr original = Original(entry, tid, main);
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

    /// <summary>The main thread's settings from before the mark, once an earlier Apply saved them (null before that, and for a thread entry).</summary>
    internal static SchedAttr? MainBefore(MarkEntry entry) =>
        !entry.IsThread && entry.Saved.TryGetValue(entry.Pid, out SchedAttr main) ? main : null;

    /// <summary>
    /// What <paramref name="tid"/> had before the mark, saved on first sight. A thread first seen after
    /// an earlier Apply was created while the process was marked; if it has exactly the mark's settings
    /// it inherited them, and the main thread's own (<paramref name="main"/>) are what it goes back to.
    /// </summary>
    internal static SchedAttr Original(MarkEntry entry, int tid, SchedAttr? main)
    {
        if (!entry.Saved.TryGetValue(tid, out SchedAttr original))
        {
            original = TaskScheduling.Get(tid);
            if (main is { } m && IsMarkedFrom(original, m))
            {
                original = m;
            }
            entry.Saved[tid] = original;
        }
        return original;
    }

    /// <summary>
    /// Puts every thread back as it was before the daemon changed it; threads that exited are skipped.
    /// A thread the process created while marked was never changed by the daemon: it started with its
    /// creator's marked nice and policy, so it is not in <see cref="MarkEntry.Saved"/>. One that still
    /// has exactly the settings the mark gives the main thread goes back to the main thread's own;
    /// one that has changed its settings since is left alone.
    /// </summary>
    internal static void Restore(MarkEntry entry)
    {
        if (MainBefore(entry) is { } main)
        {
            RestoreCreatedWhileMarked(entry, main);
        }
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

    private static void RestoreCreatedWhileMarked(MarkEntry entry, SchedAttr main)
    {
        IReadOnlyList<int> threads;
        try
        {
            threads = entry.Threads();
        }
        catch (SyscallException e) when (e.Errno == ESRCH)
        {
            return;
        }
        foreach (int tid in threads)
        {
            if (entry.Saved.ContainsKey(tid))
            {
                continue;
            }
            try
            {
                SchedAttr now = TaskScheduling.Get(tid);
                if (IsMarkedFrom(now, main))
                {
                    TaskScheduling.Set(tid, main);
                }
            }
            catch (SyscallException e) when (e.Errno == ESRCH)
            {
            }
        }
    }

    /// <summary>Whether <paramref name="now"/> has the nice and policy a mark gives a thread whose own were <paramref name="original"/>.</summary>
    internal static bool IsMarkedFrom(SchedAttr now, SchedAttr original)
    {
        if (original.Policy is not (SchedPolicy.Normal or SchedPolicy.Batch or SchedPolicy.Idle))
        {
            return false;
        }
        return Matches(Target(original, TaskClass.Burst)) || Matches(Target(original, TaskClass.Batch))
            || Matches(original with { Policy = SchedPolicy.Ext }); // partial mode: SchedExtHintBackend
        bool Matches(SchedAttr? marked) => marked is { } m && (m.Policy, m.Nice) == (now.Policy, now.Nice);
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
