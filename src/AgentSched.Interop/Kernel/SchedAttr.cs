namespace AgentSched.Interop.Kernel;

/// <summary>
/// The parts of a task's <c>struct sched_attr</c> agentsched reads and writes (see sched_setattr(2)).
/// </summary>
/// <param name="Policy">The scheduling policy.</param>
/// <param name="Nice">The nice value, -20 (highest weight) to 19; used by Normal, Batch, Idle and Ext.</param>
/// <param name="RtPriority">sched_priority: 1-99 for Fifo and RoundRobin, 0 for every other policy.</param>
/// <param name="RuntimeNs">
/// sched_runtime. For Normal, Batch and Ext on Linux 6.12 and newer it is the task's custom time slice
/// (the kernel clamps it to 0.1-100 ms; 0 = the default slice), and <see cref="TaskScheduling.Get"/>
/// reports the slice in effect (the kernel's base slice when none was set). Older kernels ignore it
/// for those policies and report 0. For Deadline it is the runtime per period.
/// </param>
/// <param name="Flags">sched_flags, <c>SCHED_FLAG_*</c>; see <see cref="TaskScheduling.ResetOnFork"/>.</param>
public readonly record struct SchedAttr(SchedPolicy Policy, int Nice, uint RtPriority, ulong RuntimeNs, ulong Flags);
