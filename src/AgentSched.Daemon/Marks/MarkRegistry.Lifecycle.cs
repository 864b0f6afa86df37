using AgentSched.Interop;
using AgentSched.Interop.Kernel;
using Microsoft.Extensions.Logging;

namespace AgentSched.Daemon.Marks;

/// <summary>A mark as persisted in marks.json: enough to find the same process again and to undo what was done to it.</summary>
internal sealed record PersistedMark(int Pid, bool IsThread, ulong StartTimeTicks, uint RequesterUid, MarkState State, IReadOnlyDictionary<int, SavedThread> Saved);

internal sealed partial class MarkRegistry
{
    /// <summary>
    /// Drops entries whose task exited and acts on windows that ended: a standing mark whose window
    /// ended is removed (its task restored), a step that ended falls back to the standing mark.
    /// Returns the next window end, for the caller's timer.
    /// </summary>
    public ulong? Sweep()
    {
        ulong now = MonotonicClock.NowNs();
        ulong? next = null;
        bool changed = false;
        lock (_gate)
        {
            Interlocked.Exchange(ref _nextDeadline, ulong.MaxValue);
            foreach (MarkEntry e in _entries.Values.ToList())
            {
                if (!e.Handle.IsAlive)
                {
                    Drop(e, restore: false);
                    changed = true;
                    continue;
                }
                MarkState s = e.State;
                MarkState live = s with
                {
                    StepEndNs = s.StepEndNs > now ? s.StepEndNs : null,
                    StepBudgetUs = s.StepEndNs > now ? s.StepBudgetUs : null,
                    Class = s.EndNs is { } end && end <= now ? null : s.Class,
                    EndNs = s.EndNs is { } end2 && end2 <= now ? null : s.EndNs,
                };
                if (live != s)
                {
                    e.State = live;
                    Reapply(e, now, live);
                    changed = true;
                }
                if (e.State.NextDeadline(now) is { } d && (next is null || d < next))
                {
                    next = d;
                }
            }
        }
        if (next is { } n && n < _nextDeadline) Interlocked.Exchange(ref _nextDeadline, n);
        if (changed) Bump();
        return next;
    }

    /// <summary>Moves every mark to another backend: undo with the old one, apply with the new one.</summary>
    public void SwitchBackend(IHintBackend backend)
    {
        lock (_gate)
        {
            IHintBackend old = _backend;
            foreach (MarkEntry e in _entries.Values)
            {
                try
                {
                    old.Remove(e);
                }
                catch (Exception ex) when (ex is IOException or BpfException)
                {
                    LogRestoreFailed(e.Pid, ex.Message);
                }
            }
            _backend = backend;
            ReapplyAllLocked();
        }
    }

    /// <summary>Writes every mark again through the current backend (after the scheduler was re-attached).</summary>
    public int ReapplyAll()
    {
        lock (_gate) return ReapplyAllLocked();
    }

    private int ReapplyAllLocked()
    {
        ulong now = MonotonicClock.NowNs();
        int applied = 0;
        foreach (MarkEntry e in _entries.Values.ToList())
        {
            if (Reapply(e, now, e.State) is null && _entries.ContainsKey(e.Pid)) applied++;
        }
        Bump();
        return applied;
    }

    /// <summary>Undoes every mark's effect on its task (daemon shutdown); the marks stay persisted for the next start.</summary>
    public void RestoreAll()
    {
        lock (_gate)
        {
            foreach (MarkEntry e in _entries.Values)
            {
                try
                {
                    _backend.Remove(e);
                }
                catch (Exception ex) when (ex is IOException or BpfException)
                {
                    LogRestoreFailed(e.Pid, ex.Message);
                }
            }
        }
    }

    /// <summary>The current marks, for persisting, and the generation they represent.</summary>
    public (long Generation, List<PersistedMark> Marks) Snapshot()
    {
        lock (_gate)
        {
            var marks = _entries.Values
                .Select(e => new PersistedMark(e.Pid, e.IsThread, e.Info.StartTimeTicks, e.RequesterUid, e.State, new Dictionary<int, SavedThread>(e.Saved)))
                .ToList();
            return (Generation, marks);
        }
    }

    /// <summary>
    /// Re-applies persisted marks after a restart, to the same processes only: a pid whose start
    /// time differs belongs to a new process and is skipped. A mark whose window ended while the
    /// daemon was away is not re-applied, but its task's saved settings are restored.
    /// </summary>
    public (int Restored, int Skipped) Restore(IEnumerable<PersistedMark> marks)
    {
        ulong now = MonotonicClock.NowNs();
        int restored = 0, skipped = 0;
        lock (_gate)
        {
            foreach (PersistedMark m in marks)
            {
                ProcessHandle? handle = null;
                try
                {
                    handle = m.IsThread ? ProcessHandle.OpenThread(m.Pid) : ProcessHandle.Open(m.Pid);
                    ProcessInfo info = handle.ReadInfo();
                    if (info.StartTimeTicks != m.StartTimeTicks)
                    {
                        LogPidReused(m.Pid);
                        handle.Dispose();
                        skipped++;
                        continue;
                    }
                    var entry = new MarkEntry(handle, info, m.IsThread, m.RequesterUid) { State = m.State };
                    handle = null;
                    foreach ((int tid, SavedThread saved) in m.Saved) entry.Saved[tid] = saved;
                    _entries[m.Pid] = entry;
                    if (Reapply(entry, now, entry.State) is { } failure)
                    {
                        LogRestoreFailed(m.Pid, failure.Error!.Message);
                        skipped++;
                    }
                    else if (_entries.ContainsKey(m.Pid))
                    {
                        restored++;
                    }
                    else
                    {
                        skipped++; // its windows had ended: restored to its own settings and dropped
                    }
                }
                catch (SyscallException)
                {
                    handle?.Dispose();
                    skipped++;
                }
            }
        }
        Bump();
        return (restored, skipped);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "persisted mark for pid {Pid} skipped: the pid now belongs to another process")]
    private partial void LogPidReused(int pid);
}
