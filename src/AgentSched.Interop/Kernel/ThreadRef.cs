namespace AgentSched.Interop.Kernel;

/// <summary>What a checked change to a thread's scheduling did (see <see cref="ThreadRef.TrySet"/>).</summary>
public enum ThreadChange
{
    /// <summary>The thread was changed, and it held its tid from before the call to after it.</summary>
    Done,

    /// <summary>The thread had exited before the call: nothing was done.</summary>
    Gone,

    /// <summary>
    /// The thread was there before the call and gone after it: it exited in that moment, and the call
    /// reached it or, only if the pid space wrapped around within those microseconds, a task that
    /// took its tid.
    /// </summary>
    Raced,
}

/// <summary>
/// One thread of a process, named so that a reused thread id cannot stand in for it: the process's
/// pid, the thread's tid and the thread's start time (clock ticks since boot, field 22 of
/// <c>/proc/&lt;pid&gt;/task/&lt;tid&gt;/stat</c>). A tid is freed when its thread exits and is
/// handed out again later; a task that gets it has a later start time, and a task of another
/// process is not under <c>/proc/&lt;pid&gt;/task</c> at all.
/// </summary>
/// <remarks>
/// sched_setattr(2) takes a tid; Linux has no pidfd form of it. So every change is checked before
/// and after: the thread must be found under its process with its start time both times, which
/// proves it held the tid throughout the call. What remains is the moment between the check before
/// and the call: a thread that exits in it and a tid reused in it (the allocator must come all the
/// way round the pid space to that number) is reported as <see cref="ThreadChange.Raced"/>.
/// </remarks>
public readonly record struct ThreadRef(int Pid, int Tid, ulong StartTime)
{
    private const int ESRCH = 3;

    /// <summary>The thread <paramref name="tid"/> of process <paramref name="pid"/> as it is now; null when the process has no such thread.</summary>
    public static ThreadRef? Find(int pid, int tid) =>
        ReadStartTime(pid, tid) is { } start ? new ThreadRef(pid, tid, start) : null;

    /// <summary>Whether this thread still holds its tid in its process.</summary>
    public bool Exists => ReadStartTime(Pid, Tid) == StartTime;

    /// <summary>The thread's scheduling attributes; null when it has exited.</summary>
    /// <exception cref="SyscallException">sched_getattr failed with something other than ESRCH.</exception>
    public SchedAttr? TryGet()
    {
        if (!Exists)
        {
            return null;
        }
        SchedAttr attr;
        try
        {
            attr = TaskScheduling.Get(Tid);
        }
        catch (SyscallException e) when (e.Errno == ESRCH)
        {
            return null;
        }
        return Exists ? attr : null; // read from another task if the tid changed hands meanwhile
    }

    /// <summary>Sets the thread's scheduling attributes if it is still there (see the remarks on the type).</summary>
    /// <exception cref="SyscallException">sched_setattr failed with something other than ESRCH (EPERM, EINVAL).</exception>
    public ThreadChange TrySet(SchedAttr attr)
    {
        if (!Exists)
        {
            return ThreadChange.Gone;
        }
        try
        {
            TaskScheduling.Set(Tid, attr);
        }
        catch (SyscallException e) when (e.Errno == ESRCH)
        {
            return ThreadChange.Gone;
        }
        return Exists ? ThreadChange.Done : ThreadChange.Raced;
    }

    private static ulong? ReadStartTime(int pid, int tid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/task/{tid}/stat");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException { HResult: ESRCH })
        {
            return null;
        }
        return ProcessHandle.ParseStat(stat)?.StartTime;
    }
}
