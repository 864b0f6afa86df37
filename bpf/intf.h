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
	AGENT_ABI_VERSION	= 2,
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
	AGENT_MAX_CPUS		= 1024,	/* size of the per-CPU topology map `cpu_llc` */
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

/* A task's hint, written by agentschedd into the `hints` task-storage map keyed by a pidfd. */
struct agent_hint {
	__u32 class_id;		/* enum agent_class_id */
	__s32 home_cpu;		/* preferred CPU, or -1 to learn it from where the task runs */
	__u64 window_end_ns;	/* CLOCK_MONOTONIC end of the step window; 0 = no window */
	__u32 step_budget_us;	/* BURST CPU per step before demotion; 0 = the scheduler's default */
	__u32 flags;		/* reserved, 0 */
};
_Static_assert(sizeof(struct agent_hint) == 24, "struct agent_hint is part of the ABI");

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

#endif /* AGENTSCHED_INTF_H */
