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
/// their creator, as the kernel does, and are put back with the rest when the mark ends (not those
/// created by a thread marked on its own, a step opened for one tid).
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
                    entry.Applied.Add((target.Policy, target.Nice));
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
    /// an earlier Apply was created while the process was marked: if it inherited the mark's settings
    /// (<see cref="Inherited"/>), what it goes back to is the main thread's own (<paramref name="main"/>).
    /// </summary>
    internal static SchedAttr Original(MarkEntry entry, int tid, SchedAttr? main)
    {
        if (!entry.Saved.TryGetValue(tid, out SchedAttr original))
        {
            original = TaskScheduling.Get(tid);
            if (main is { } m && Inherited(entry, m, original))
            {
                original = m with { Flags = original.Flags };
            }
            entry.Saved[tid] = original;
        }
        return original;
    }

    /// <summary>
    /// Puts every thread back as it was before the daemon changed it; threads that exited are skipped.
    /// Then the threads the process created while marked, which the daemon never saw: they started
    /// with their creator's marked settings. One that still has settings the mark gave (and that no
    /// thread had before it) gets the main thread's earlier ones; one that changed its own settings
    /// since is left alone. Best effort: a thread that cannot be changed is skipped.
    /// </summary>
    internal static void Restore(MarkEntry entry)
    {
        SchedAttr? main = MainBefore(entry);
        var saved = new HashSet<int>(entry.Saved.Keys);
        try
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
        }
        finally
        {
            // After the saved threads: a thread created while this ran has a restored creator.
            if (main is { } m)
            {
                RestoreCreatedWhileMarked(entry, m, saved);
            }
            entry.Saved.Clear();
            entry.Applied.Clear();
        }
    }

    private static void RestoreCreatedWhileMarked(MarkEntry entry, SchedAttr main, HashSet<int> saved)
    {
        IReadOnlyList<int> threads;
        try
        {
            threads = entry.Threads();
        }
        catch (SyscallException)
        {
            return;
        }
        foreach (int tid in threads)
        {
            if (saved.Contains(tid))
            {
                continue;
            }
            try
            {
                SchedAttr now = TaskScheduling.Get(tid);
                if (Inherited(entry, main, now))
                {
                    TaskScheduling.Set(tid, main with { Flags = now.Flags });
                }
            }
            catch (SyscallException)
            {
                // exited, or not ours to change: the other threads still go back
            }
        }
    }

    /// <summary>
    /// Whether a thread the daemon never saw got <paramref name="now"/>'s policy and nice from the
    /// mark: one the daemon gave a thread of the entry (<see cref="MarkEntry.Applied"/>; after a
    /// restart, when that is unknown, what either class or partial mode would give the main thread),
    /// and not one a thread had before the mark, which a creator could have passed on without it.
    /// </summary>
    internal static bool Inherited(MarkEntry entry, SchedAttr main, SchedAttr now)
    {
        (SchedPolicy, int) got = (now.Policy, now.Nice);
        if (entry.Saved.Values.Any(s => (s.Policy, s.Nice) == got))
        {
            return false;
        }
        if (entry.Applied.Count > 0)
        {
            return entry.Applied.Contains(got);
        }
        return main.Policy is SchedPolicy.Normal or SchedPolicy.Batch or SchedPolicy.Idle
            && (Matches(Target(main, TaskClass.Burst)) || Matches(Target(main, TaskClass.Batch)) || got == (SchedPolicy.Ext, main.Nice));
        bool Matches(SchedAttr? marked) => marked is { } m && (m.Policy, m.Nice) == got;
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
