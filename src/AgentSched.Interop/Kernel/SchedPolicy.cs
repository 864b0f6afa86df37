namespace AgentSched.Interop.Kernel;

/// <summary>A task's scheduling policy: the <c>SCHED_*</c> values of uapi/linux/sched.h.</summary>
public enum SchedPolicy : uint
{
    /// <summary>SCHED_NORMAL (SCHED_OTHER): the fair class, or sched_ext in full mode.</summary>
    Normal = 0,

    /// <summary>SCHED_FIFO: real-time, run until blocked or preempted by a higher priority.</summary>
    Fifo = 1,

    /// <summary>SCHED_RR: real-time with round-robin time slices among equal priorities.</summary>
    RoundRobin = 2,

    /// <summary>SCHED_BATCH: fair class, treated as CPU-bound (no wakeup preemption).</summary>
    Batch = 3,

    /// <summary>SCHED_IDLE: fair class at the lowest possible weight.</summary>
    Idle = 5,

    /// <summary>SCHED_DEADLINE: earliest-deadline-first with runtime, deadline and period.</summary>
    Deadline = 6,

    /// <summary>SCHED_EXT: runs on the attached sched_ext scheduler (EINVAL on kernels without sched_ext).</summary>
    Ext = 7,
}
