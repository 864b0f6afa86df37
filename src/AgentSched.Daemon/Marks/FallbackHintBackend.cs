using AgentSched.Interop;
using AgentSched.Interop.Kernel;
using AgentSched.Protocol;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Marks;

/// <summary>
/// Classes as EEVDF controls, for kernels without sched_ext or when the scheduler keeps failing
/// (docs/protocol.md, "Fallback mode"): BURST is nice -10 with a 1 ms slice request
/// (<c>sched_attr.sched_runtime</c>, honoured by EEVDF on 6.12+), BATCH is SCHED_BATCH at nice 10,
/// NORMAL is the task's own settings. Real-time and deadline tasks are left alone: they already
/// outrank every class. Every thread of a process is changed; threads created later inherit from
/// their creator, as the kernel does, and are put back with the rest when the mark ends (not those
/// created by a thread marked on its own, a step opened for one tid). Child processes forked while
/// marked inherit too, and are put back as well (<see cref="RestoreChildren"/>): when the mark ends,
/// and, from BURST, when it turns into another class. A thread is acted on only as
/// the <see cref="ThreadRef"/> the daemon saved (tid and start time), so a tid that a thread of the
/// mark left behind never carries the mark's or the saved settings to whatever task has it next.
/// </summary>
internal sealed partial class FallbackHintBackend(ILogger? logger = null) : IHintBackend
{
    public const int BurstNice = -10;
    public const int BatchNice = 10;
    public const ulong BurstSliceNs = 1_000_000;

    private const int ESRCH = 3;

    public string Mode => "fallback";

    public string? SelfStepsUnavailable => "agentschedd runs in fallback mode (no sched_ext): steps go through step_begin and step_end";

    public void Apply(MarkEntry entry, EffectiveHint hint)
    {
        bool wasBurst = MainBefore(entry) is { } before && entry.Applied.Any(a => a.Policy == SchedPolicy.Normal && a.Nice < before.Nice);
        ApplyEach(entry, original => Target(original, hint.Class), logger);
        if (wasBurst && hint.Class != TaskClass.Burst && MainBefore(entry) is { } main)
        {
            // No longer BURST: children that inherited its nice from it give it up with the rest.
            RestoreChildren(entry, main, burstOnly: true, logger);
        }
    }

    public void Remove(MarkEntry entry) => Restore(entry, logger);

    /// <summary>
    /// Gives each thread of the entry what <paramref name="target"/> makes of its settings from before
    /// the mark (null: leave it). Threads are reached as <see cref="ThreadRef"/>s: one that exited is
    /// forgotten, and its tid, should a newer thread of the process have it, names that newer thread.
    /// </summary>
    /// <exception cref="SyscallException">ESRCH when the entry's own task has exited; EPERM, EINVAL from sched_setattr.</exception>
    internal static void ApplyEach(MarkEntry entry, Func<SchedAttr, SchedAttr?> target, ILogger? logger)
    {
        if (entry.Saved.Count == 0 && !entry.IsThread)
        {
            entry.PidWatermark = ProcessTree.LastPid();
        }
        SchedAttr? main = MainBefore(entry);
        foreach (int tid in entry.Threads())
        {
            if (Original(entry, tid, main) is not (ThreadRef thread, SchedAttr original))
            {
                GoneUnlessMain(entry, tid);
                continue;
            }
            if (target(original) is not { } wanted)
            {
                continue;
            }
            ThreadChange done = thread.TrySet(wanted);
            if (done == ThreadChange.Done)
            {
                entry.Applied.Add((wanted.Policy, wanted.Nice));
                continue;
            }
            entry.Saved.Remove(tid);
            Report(logger, thread, done);
            GoneUnlessMain(entry, tid);
        }
    }

    /// <summary>The main thread's settings from before the mark, once an earlier Apply saved them (null before that, and for a thread entry).</summary>
    internal static SchedAttr? MainBefore(MarkEntry entry) =>
        !entry.IsThread && entry.Saved.TryGetValue(entry.Pid, out SavedThread main) ? main.Attr : null;

    /// <summary>
    /// The thread <paramref name="tid"/> of the entry and what it had before the mark, saved on first
    /// sight; null when it has exited. A thread first seen after an earlier Apply was created while the
    /// process was marked: if it inherited the mark's settings (<see cref="Inherited"/>), what it goes
    /// back to is the main thread's own (<paramref name="main"/>).
    /// </summary>
    internal static (ThreadRef Thread, SchedAttr Original)? Original(MarkEntry entry, int tid, SchedAttr? main)
    {
        if (entry.Saved.TryGetValue(tid, out SavedThread saved))
        {
            var known = new ThreadRef(entry.Pid, tid, saved.StartTime);
            if (known.Exists)
            {
                return (known, saved.Attr);
            }
            entry.Saved.Remove(tid); // that thread exited: a thread with its tid now is a newer one
        }
        if (ThreadRef.Find(entry.Pid, tid) is not { } thread || thread.TryGet() is not { } now)
        {
            return null;
        }
        SchedAttr original = main is { } m && Inherited(entry, m, now) ? m with { Flags = now.Flags } : now;
        entry.Saved[tid] = new SavedThread(thread.StartTime, original);
        return (thread, original);
    }

    /// <summary>
    /// Puts every thread back as it was before the daemon changed it, each only while it is the thread
    /// that was saved (a thread that exited is skipped, whatever task has its tid now). Then the
    /// threads the process created while marked, which the daemon never saw: they started with their
    /// creator's marked settings. One that still has settings the mark gave (and that no thread had
    /// before it) gets the main thread's earlier ones; one that changed its own settings since is left
    /// alone. Best effort: a thread that cannot be changed is skipped.
    /// </summary>
    internal static void Restore(MarkEntry entry, ILogger? logger)
    {
        SchedAttr? main = MainBefore(entry);
        var saved = new HashSet<int>(entry.Saved.Keys);
        try
        {
            foreach ((int tid, SavedThread s) in entry.Saved)
            {
                var thread = new ThreadRef(entry.Pid, tid, s.StartTime);
                Report(logger, thread, thread.TrySet(s.Attr));
            }
        }
        finally
        {
            // After the saved threads: a thread created while this ran has a restored creator.
            if (main is { } m)
            {
                RestoreCreatedWhileMarked(entry, m, saved, logger);
                RestoreChildren(entry, m, burstOnly: false, logger);
            }
            entry.Saved.Clear();
            entry.Applied.Clear();
            entry.PidWatermark = null;
        }
    }

    private static void RestoreCreatedWhileMarked(MarkEntry entry, SchedAttr main, HashSet<int> saved, ILogger? logger)
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
                if (ThreadRef.Find(entry.Pid, tid) is { } thread && thread.TryGet() is { } now && Inherited(entry, main, now))
                {
                    Report(logger, thread, thread.TrySet(main with { Flags = now.Flags }));
                }
            }
            catch (SyscallException)
            {
                // not ours to change: the other threads still go back
            }
        }
    }

    /// <summary>
    /// Puts back the threads of the processes the marked process created while marked (children,
    /// their children, and so on) that still have the settings the mark passed on: they go to the
    /// main thread's settings from before the mark, like threads created meanwhile. A descendant is
    /// found by its parent; one whose parent exited (reparented to init or a subreaper) is taken too
    /// when it runs as the marked process's own uid and that uid is not root's, since such a task
    /// cannot have given itself a BURST nice. With <paramref name="burstOnly"/>, only settings more
    /// favourable than the main thread's earlier ones are put back (the mark goes on in another class).
    /// Best effort: a task that exits or cannot be changed is skipped.
    /// </summary>
    internal static void RestoreChildren(MarkEntry entry, SchedAttr main, bool burstOnly, ILogger? logger)
    {
        if (entry.IsThread)
        {
            return; // a thread's own step: what it forks is covered by its process's mark, if any
        }
        IReadOnlyList<ProcessLink> created = ProcessTree.CreatedAfter(entry.PidWatermark);
        var pids = created.Select(p => p.Pid).ToHashSet();
        var ours = new HashSet<int> { entry.Pid };
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (ProcessLink p in created)
            {
                if (!ours.Contains(p.Pid) && ours.Contains(p.ParentPid))
                {
                    grew = ours.Add(p.Pid);
                }
            }
        }
        bool orphansToo = entry.Info.RealUid != 0;
        foreach (ProcessLink p in created)
        {
            bool orphan = !ours.Contains(p.Pid) && !pids.Contains(p.ParentPid) && p.ParentPid != entry.Pid;
            if (p.Pid == entry.Pid || !(ours.Contains(p.Pid) || (orphansToo && orphan && p.RealUid == entry.Info.RealUid)))
            {
                continue;
            }
            foreach (int tid in ProcessHandle.TaskIdsOf(p.Pid))
            {
                try
                {
                    if (ThreadRef.Find(p.Pid, tid) is { } thread && thread.TryGet() is { } now && Inherited(entry, main, now)
                        && (!burstOnly || (now.Policy == SchedPolicy.Normal && now.Nice < main.Nice)))
                    {
                        Report(logger, thread, thread.TrySet(main with { Flags = now.Flags }));
                    }
                }
                catch (SyscallException)
                {
                    // not ours to change: the others still go back
                }
            }
        }
    }

    private static void GoneUnlessMain(MarkEntry entry, int tid)
    {
        if (tid == entry.Pid)
        {
            throw new SyscallException($"sched_setattr({tid})", ESRCH);
        }
    }

    private static void Report(ILogger? logger, ThreadRef thread, ThreadChange done)
    {
        if (done == ThreadChange.Raced && logger is not null)
        {
            LogRaced(logger, thread.Tid, thread.Pid);
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
        if (entry.Saved.Values.Any(s => (s.Attr.Policy, s.Attr.Nice) == got))
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

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "thread {Tid} of pid {Pid} exited while its scheduling was being changed; only if the pid space wrapped around in that moment could the change have reached another task with its tid")]
    private static partial void LogRaced(ILogger logger, int tid, int pid);
}
