/* SPDX-License-Identifier: GPL-2.0 */
/*
 * intf.h — the one definition of everything agent_class (BPF) and agentsched (C#) both see:
 * constants, enums and the layouts of shared map values. The C# twin in
 * src/AgentSched.Interop/Abi is checked against the BTF of the built object by a test
 * (tests/AgentSched.Interop.Tests/AbiTests.cs), so a field added here and not there fails the build.
 *
 * Rules: fixed-width types only, explicit padding, a size assertion per struct, and
 * AGENT_ABI_VERSION bumped on any change to a layout or a value below.
 */
#ifndef AGENTSCHED_INTF_H
#define AGENTSCHED_INTF_H

enum agent_abi {
	AGENT_ABI_VERSION	= 6,
};

/* Scheduling classes a hint can ask for. NORMAL is also what an unhinted task gets. */
enum agent_class_id {
	AGENT_CLASS_NORMAL	= 0,
	AGENT_CLASS_BURST	= 1,
	AGENT_CLASS_BATCH	= 2,
	AGENT_NR_CLASSES	= 3,
};

/* The scheduler's own dispatch queues, drained in this order. */
enum agent_dsq_id {
	AGENT_DSQ_BURST		= 0,
	AGENT_DSQ_NORMAL	= 1,
	AGENT_DSQ_BATCH		= 2,
};

/* Per-CPU counters: the `stats` map holds one `__u64 [AGENT_NR_STATS]` per CPU. */
enum agent_stat_idx {
	AGENT_STAT_DISPATCH_BURST,	/* tasks queued or placed as BURST */
	AGENT_STAT_DISPATCH_NORMAL,	/* ... as NORMAL */
	AGENT_STAT_DISPATCH_BATCH,	/* ... as BATCH */
	AGENT_STAT_DIRECT_IDLE,		/* wakeups placed straight onto an idle CPU */
	AGENT_STAT_KICK_PREEMPT,	/* CPUs running NORMAL/BATCH preempted for a BURST task */
	AGENT_STAT_DEMOTE_STEP,		/* BURST tasks that ran past step_budget without blocking */
	AGENT_STAT_DEMOTE_PERIOD,	/* BURST tasks that used up their share of a credit period */
	AGENT_STAT_STARVE_DISPATCH,	/* NORMAL/BATCH heads served ahead of BURST by the starvation guard */
	AGENT_STAT_MIGRATE_IN_WINDOW,	/* BURST tasks that ran on another CPU inside their anti-migration window */
	AGENT_STAT_WINDOW_EXPIRED,	/* hints whose step window ended */
	AGENT_STAT_INHERITED,		/* forked tasks that started in their parent's class */
	AGENT_STAT_BATCH_YIELD,		/* BATCH runs cut short (after slice_ns) for waiting BURST/NORMAL work */
	AGENT_STAT_SELF_STEP,		/* self-steps opened or closed by granted tasks (AGENT_PRCTL_STEP) */
	AGENT_STAT_SELF_STEP_DENIED,	/* AGENT_PRCTL_STEP opens refused: no grant (for a process window: none on the process) */
	/*
	 * Gauges, not counters: tasks runnable (queued or running) per class, in class-id order.
	 * A task adds 1 on the CPU where it is counted in a class and subtracts 1 on the CPU where
	 * it leaves it, so a single CPU's value is meaningless (it may wrap below zero) and only
	 * the sum over CPUs is the count.
	 */
	AGENT_STAT_RUNNABLE_NORMAL,
	AGENT_STAT_RUNNABLE_BURST,
	AGENT_STAT_RUNNABLE_BATCH,
	AGENT_NR_STATS,
};

enum agent_limits {
	AGENT_MAX_CPUS		= 1024,	/* CPU ids agent_class keeps per-CPU state for (cpu_class) */
};

enum agent_latency_sizes {
	/* bucket b counts waits in [2^b, 2^(b+1)) ns; the last one everything longer */
	AGENT_LAT_BUCKETS	= 32,
};

/* Per-CPU queue-wait (runnable -> on CPU) histograms per class: the `latency` map's value. */
struct agent_latency {
	__u64 buckets[AGENT_NR_CLASSES][AGENT_LAT_BUCKETS];
	__u64 max_wait_ns[AGENT_NR_CLASSES];
	__u64 wait_sum_ns[AGENT_NR_CLASSES];	/* sum of the waits counted in buckets */
};
_Static_assert(sizeof(struct agent_latency) == 816, "struct agent_latency is part of the ABI");

/* agent_hint.flags */
enum agent_hint_flags {
	/*
	 * A grant: the task (on a thread-group leader's hint, every thread of its process) may open
	 * and close its own BURST step windows with AGENT_PRCTL_STEP, without asking agentschedd.
	 */
	AGENT_HINT_F_SELF_STEP	= 1 << 0,
};

/* A task's hint, written by agentschedd into the `hints` task-storage map keyed by a pidfd. */
struct agent_hint {
	__u32 class_id;		/* enum agent_class_id */
	__s32 home_cpu;		/* preferred CPU, or -1 to learn it from where the task runs */
	__u64 window_end_ns;	/* CLOCK_MONOTONIC end of the step window; 0 = no window */
	__u32 step_budget_us;	/* BURST CPU per step before demotion; 0 = the scheduler's default */
	__u32 flags;		/* enum agent_hint_flags */
	__u32 self_window_ms;	/* with AGENT_HINT_F_SELF_STEP: the longest self-opened window, and the default */
	__u32 grant_seq;	/* with AGENT_HINT_F_SELF_STEP: this grant's number; a window opened under another is void */
};
_Static_assert(sizeof(struct agent_hint) == 32, "struct agent_hint is part of the ABI");

/*
 * Self-steps: a granted task opens and closes its own step window with one system call,
 *   prctl(AGENT_PRCTL_STEP, op, window_ms, 0, 0)
 * which agent_class answers from a BPF program on the kernel's prctl security hook; the hook
 * runs as the caller, so a task can only ever change its own step state (AGENT_STEP_OPEN_PROCESS:
 * its own process's). The call returns AGENT_STEP_DONE on success, -EPERM for an open without a
 * grant, and -EINVAL (the kernel's own answer to an unknown option) when agent_class is not
 * attached. A close always succeeds. window_ms 0 or above the grant's self_window_ms means
 * self_window_ms. A window counts only under the grant it was opened under (grant_seq).
 */
enum agent_self_step {
	AGENT_PRCTL_STEP	= 0x41475354,	/* "AGST": a prctl option no kernel defines */
	AGENT_STEP_CLOSE	= 0,		/* ends the calling thread's window */
	AGENT_STEP_OPEN		= 1,		/* opens a window for the calling thread */
	AGENT_STEP_OPEN_PROCESS	= 2,		/* ... for every thread of its process (a process grant only) */
	AGENT_STEP_CLOSE_PROCESS = 3,		/* ends that */
	AGENT_STEP_DONE		= 1,		/* prctl's return value on success */
};

enum agent_exit_sizes {
	AGENT_EXIT_REASON_LEN	= 128,
	AGENT_EXIT_MSG_LEN	= 1024,
};

/* Why the scheduler last left the kernel, copied from struct scx_exit_info in ops.exit. */
struct agent_exit_info {
	__s32 kind;		/* enum scx_exit_kind; 0 while attached */
	__s32 exit_cpu;
	__s64 exit_code;
	char reason[AGENT_EXIT_REASON_LEN];
	char msg[AGENT_EXIT_MSG_LEN];
};
_Static_assert(sizeof(struct agent_exit_info) == 1168, "struct agent_exit_info is part of the ABI");

/*
 * Steps. A step of a task starts when it becomes runnable after blocking (or when it is new)
 * and ends when it blocks again: for an agent, one link of the plan -> tool call -> parse chain.
 * For tasks with a hint (their own, their process's, or inherited at fork) agent_class records
 * each step in per-class histograms and in a per-task ring of recent steps.
 */
enum agent_step_sizes {
	AGENT_STEP_RING_LEN	= 32,	/* steps kept per task; a power of two */
};

/* What a step's time is split into; the second index of agent_step_stats.buckets. */
enum agent_step_time {
	AGENT_STEP_TOTAL,	/* became runnable -> blocked (wall time) */
	AGENT_STEP_WAIT,	/* runnable but not on a CPU, summed over the step */
	AGENT_STEP_RUN,		/* on a CPU */
	AGENT_STEP_NR_TIMES,
};

/* agent_step.flags */
enum agent_step_flags {
	AGENT_STEP_F_HOME	= 1 << 0,	/* every run of the step was on the task's home CPU */
	AGENT_STEP_F_DEMOTED	= 1 << 1,	/* a budget demoted it to NORMAL during the step */
};

/* Per-CPU step histograms per class (the class of the step's first run): the `step_stats` map's value. */
struct agent_step_stats {
	__u64 buckets[AGENT_NR_CLASSES][AGENT_STEP_NR_TIMES][AGENT_LAT_BUCKETS];	/* log2 ns, as agent_latency */
	__u64 sum_ns[AGENT_NR_CLASSES][AGENT_STEP_NR_TIMES];
	__u64 steps[AGENT_NR_CLASSES];
	__u64 migrations[AGENT_NR_CLASSES];	/* runs on another CPU than the step's previous run */
	__u64 preemptions[AGENT_NR_CLASSES];	/* times a step lost its CPU while still runnable */
	__u64 home_hits[AGENT_NR_CLASSES];	/* steps with AGENT_STEP_F_HOME */
};
_Static_assert(sizeof(struct agent_step_stats) == 2472, "struct agent_step_stats is part of the ABI");

/* One finished step. */
struct agent_step {
	__u64 seq;		/* the task's step number, from 1 */
	__u64 end_ns;		/* CLOCK_MONOTONIC when the step ended */
	__u64 total_ns;		/* AGENT_STEP_TOTAL */
	__u64 wait_ns;		/* AGENT_STEP_WAIT */
	__u64 run_ns;		/* AGENT_STEP_RUN */
	__s32 cpu;		/* CPU of its last run */
	__s32 home_cpu;		/* the home CPU when the step began: the hint's, or where it ran before; -1 unknown */
	__u16 migrations;	/* saturating */
	__u16 preemptions;	/* saturating */
	__u8 class_id;		/* class of its first run */
	__u8 flags;		/* enum agent_step_flags */
	__u8 pad[2];
};
_Static_assert(sizeof(struct agent_step) == 56, "struct agent_step is part of the ABI");

/*
 * A task's recent steps: the `step_rings` task-storage map's value, read through a pidfd. The
 * scheduler writes a step under `lock`, and user space reads with BPF_F_LOCK, so a read never
 * sees a record half written (the kernel's copy of a map value has no defined order).
 */
struct agent_step_ring {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 steps;		/* steps recorded so far; step n is in ring[(n - 1) % AGENT_STEP_RING_LEN] */
	struct agent_step ring[AGENT_STEP_RING_LEN];
};
_Static_assert(sizeof(struct agent_step_ring) == 16 + 56 * 32, "struct agent_step_ring is part of the ABI");

#endif /* AGENTSCHED_INTF_H */
