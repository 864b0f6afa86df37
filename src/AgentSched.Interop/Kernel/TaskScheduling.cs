using AgentSched.Interop.Native;

namespace AgentSched.Interop.Kernel;

/// <summary>
/// sched_getattr(2) and sched_setattr(2) for one thread (a tid; a process's pid is its main thread).
/// Failures throw <see cref="SyscallException"/>: ESRCH for a missing thread, EPERM without
/// CAP_SYS_NICE for another user's thread or a raised priority, EINVAL for an invalid combination.
/// </summary>
public static unsafe class TaskScheduling
{
    /// <summary>SCHED_FLAG_RESET_ON_FORK: children start with the default policy and nice 0.</summary>
    public const ulong ResetOnFork = 0x01;

    /// <summary>SCHED_FLAG_KEEP_POLICY: <see cref="Set"/> leaves the policy as it is.</summary>
    public const ulong KeepPolicy = 0x08;

    /// <summary>SCHED_FLAG_KEEP_PARAMS: <see cref="Set"/> leaves nice, priority and runtime as they are.</summary>
    public const ulong KeepParams = 0x10;

    /// <summary>Reads a thread's policy, nice, real-time priority, runtime and flags.</summary>
    /// <exception cref="SyscallException">sched_getattr failed (ESRCH: no such thread).</exception>
    public static SchedAttr Get(int tid)
    {
        Libc.SchedAttr attr = default;
        if (Libc.SchedGetattr(tid, &attr, Libc.SchedAttrSizeVer1, 0) < 0)
        {
            throw SyscallException.FromLastError($"sched_getattr({tid})");
        }
        return new SchedAttr((SchedPolicy)attr.SchedPolicy, attr.SchedNice, attr.SchedPriority, attr.SchedRuntime, attr.SchedFlags);
    }

    /// <summary>
    /// Sets a thread's policy, nice, real-time priority, runtime and flags in one call. Flags are passed
    /// as given: <see cref="ResetOnFork"/> is set only when asked for (and cleared otherwise).
    /// </summary>
    /// <remarks>
    /// A non-zero <see cref="SchedAttr.RuntimeNs"/> for Normal, Batch or Ext sets a custom slice on
    /// Linux 6.12 and newer and is ignored by older kernels. Deadline also needs a deadline and a
    /// period, which <see cref="SchedAttr"/> does not carry, so the kernel refuses it with EINVAL.
    /// Ext fails with EINVAL on a kernel without sched_ext. The utilization clamps are left alone
    /// (sent as 0 without SCHED_FLAG_UTIL_CLAMP_*).
    /// </remarks>
    /// <exception cref="SyscallException">sched_setattr failed (ESRCH, EPERM, EINVAL).</exception>
    public static void Set(int tid, SchedAttr attr)
    {
        var native = new Libc.SchedAttr
        {
            Size = Libc.SchedAttrSizeVer1,
            SchedPolicy = (uint)attr.Policy,
            SchedFlags = attr.Flags,
            SchedNice = attr.Nice,
            SchedPriority = attr.RtPriority,
            SchedRuntime = attr.RuntimeNs,
        };
        if (Libc.SchedSetattr(tid, &native, 0) < 0)
        {
            throw SyscallException.FromLastError($"sched_setattr({tid})");
        }
    }
}
