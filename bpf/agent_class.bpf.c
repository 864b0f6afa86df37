/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agent_class — a sched_ext scheduler for hosts that run AI agents.
 *
 * An agent is a chain of short, dependent steps: each needs a few milliseconds of CPU and gates
 * everything after it. agent_class runs such steps at once while batch work keeps its throughput.
 *
 * Classes. A task's class comes from a hint agentschedd writes into the `hints` task-storage map
 * through a pidfd, so a hint lives and dies with its task and can never apply to a later process
 * that reuses the pid. A hint on a thread-group leader covers the whole process.
 *   BURST   latency-critical steps: an agent's orchestration thread, a tool it just forked
 *   NORMAL  everything without a hint (in full mode: every other task on the machine)
 *   BATCH   declared throughput work (inference workers, compiles)
 * A child forked by a BURST or BATCH task starts in its parent's class (and window), so a tool is
 * covered before its first instruction; budgets are per task.
 *
 * Self-steps. Asking agentschedd to open and close every step costs two round trips per step,
 * more than many steps' own CPU. So the daemon may grant a task (a thread, or on a leader's hint
 * a whole process) the right to open its own step windows: a flag and a window cap in the hint.
 * The task then calls prctl(AGENT_PRCTL_STEP, ...) and agent_self_step, on the kernel's prctl
 * security hook, records the window in the caller's own task state; from then on the class is
 * taken as for any BURST window. The design keeps authority where it was: the hook runs as the
 * caller and can reach only its own state (or its own process's), the grant is read from the
 * daemon-written hint at every decision, so a revoked grant ends an open window at the next one,
 * and a self-opened window buys nothing the budgets and the credit do not already bound. The
 * cost is one system call per transition where task storage with user pointers (6.13+) would
 * make it a memory write; but that needs a writable map fd in every agent, with which it could
 * attach pages to other tasks, and a page every thread of the process can rewrite under the
 * scheduler at any time. The prctl hands out nothing.
 *
 * Hints decay. A hint may carry a window end (a step window the runtime opened for a tool call);
 * past it the task is NORMAL until userspace renews the hint. BURST is bounded twice even with no
 * window: a task that runs longer than step_budget_ns without blocking is NORMAL until it blocks
 * again, and a task whose BURST CPU time reaches credit_share_pct of credit_period_ns is NORMAL
 * until the period rolls over. So a standing mark on an agent's thread works, and a spinner that
 * naps to refresh its step budget still gets at most its share. Demotions are counted.
 *
 * Dispatch order: BURST, then NORMAL, then BATCH.
 *   BURST is FIFO: every BURST run is capped by the step budget, so ordering by deadline would
 *   buy little over arrival order and cost a vtime computation on the hottest path.
 *   NORMAL is weighted virtual time (nice-aware, sleepers' credit capped at one slice), so in
 *   full mode the rest of the machine is shared fairly.
 *   BATCH is FIFO with a batch_slice_mult times longer slice: fewer switches, better caches.
 *   The long slice is for when nobody else wants the CPU: a BATCH task that has run slice_ns
 *   while BURST or NORMAL work waits gives up its CPU at the next tick (a BATCH yield, counted),
 *   so a NORMAL task — a BURST one demoted by its budget, say — waits at most about one slice
 *   and one tick behind BATCH, not the whole long slice.
 *   A BURST task whose slice ends keeps its CPU for another slice while it is within its hint
 *   and budgets, even when other BURST tasks wait: a step runs to completion, as under
 *   SCHED_FIFO, rather than taking turns slice by slice with the other steps. With steps of
 *   similar length, taking turns makes every one of them finish late (each waits for all the
 *   others' slices), while running them one after the other finishes most early; and the step
 *   budget bounds what a waiting step can lose, to one budget per step queued ahead of it, where
 *   SCHED_FIFO has no bound. Without this a lone BURST step longer than a slice also went back
 *   through the queue, a BATCH task took its CPU and the step was kicked onto another one.
 *   A NORMAL task whose slice ends keeps its CPU when only BATCH work waits and it is in a step:
 *   it has used less than step_budget_ns since it last blocked. A short step finishes, and a CPU
 *   hog, past that after a few slices, takes turns with the head of the BATCH queue, which is how
 *   BATCH progresses beside NORMAL hogs (keeping every NORMAL task running would leave BATCH to
 *   the starvation guard). The step rule is for BURST tools whose credit demoted them: they are
 *   queued as NORMAL until the period rolls over.
 * Starvation guard: NORMAL and BATCH tasks should not wait longer than starve_ns. The guard acts
 * when any task in either queue (BATCH is FIFO, NORMAL ordered by vtime) has waited half of that:
 * ops.dispatch moves that task itself to its CPU ahead of BURST, due tasks oldest first across both
 * queues; the next tick on each CPU the waiting task may use ends the run in progress (a BURST run,
 * or a NORMAL/BATCH run past slice_ns) so that the CPU looks for work; and waking BURST tasks skip
 * direct placement on a CPU (whose local queue would be served before ops.dispatch) and their
 * anti-migration window until it runs. The other half is the margin for that tick, for BURST work
 * already queued on a CPU and for the tasks due before it. The guard looks past each queue's head:
 * it keeps the earliest time any queued task becomes due (guard_clear_until), which each enqueue
 * lowers and a walk over both queues renews, so the checks on the hot paths are one comparison and
 * the walks happen only when a task is due, or once per starve_ns / 8 as a backstop. A walk looks
 * at no more than GUARD_WALK_MAX tasks of a queue: on an overloaded machine some task is always
 * due, and a walk as long as the queue on every dispatch made hundreds of runnable threads slower
 * still. A task further back has no bound of its own: it moves up as the tasks ahead of it are
 * served (BATCH is FIFO; in NORMAL a task that ran is queued again by its grown virtual time, but
 * waking tasks can still go in ahead of it, by up to a slice of virtual time). What the guard
 * cannot bound: many due tasks at once on few CPUs (they are served one slice each, oldest first;
 * on 2 CPUs with the default slice, 64 tasks already take about starve_ns to get one slice each),
 * higher sched classes, and affinity. BURST tasks are served first and wait only behind BURST work
 * queued before them and the runs the guard serves. StarvationTests checks the bound, and
 * docs/dev/policy-measurements.md records what it measured.
 *
 * Placement of a waking BURST task: its previous CPU if idle (cache-hot); else, when a BURST waker
 * wakes it synchronously (a pipe or socket hand-off: the waker is about to block) and nothing else
 * is queued on the waker's CPU, the head of that CPU, which frees up first and needs no IPI; else
 * its home CPU if idle (the hint's, or the one it last ran on); else the kernel's topology-aware
 * idle pick (a whole idle core, then one in the previous CPU's LLC, its NUMA node, anywhere);
 * else, for a synchronous wakeup by a NORMAL waker, the head of the waker's CPU as above (a NORMAL
 * slice is short); else a CPU running NORMAL or BATCH work, which is preempted (for a synchronous
 * wakeup the waker's own CPU first: a BATCH waker's long slice is not trusted to end soon, and a
 * CPU kicks itself without an IPI to another CPU, though sched_ext runs the kick as an irq_work, a
 * self-interrupt). The waker's class is the current task's own, and only a task
 * on agent_class counts (in partial mode most wakers are fair-class tasks, which may not block).
 * No step of this loops over the CPUs: the idle pick and the preemptible-CPU search are word
 * operations on cpumasks (the kernel's idle masks, and preemptible_cpus, which mirrors cpu_class),
 * so a wakeup costs the same on 2 CPUs as on 256 bar those masks' length in words.
 * After placement the task is pinned to that CPU for antimig_ns: a preempted BURST task goes back
 * onto that CPU's local queue, so no other CPU pulls it away mid-step. NORMAL and BATCH use the
 * kernel's default idle selection.
 *
 * Tunables (.rodata, set by agentschedd before load; defaults here):
 *   slice_ns            3 ms     slice of BURST and NORMAL
 *   batch_slice_mult    4        BATCH slice = slice_ns * batch_slice_mult
 *   step_budget_ns      8 ms     BURST CPU per step (a hint may set its own)
 *   credit_period_ns    100 ms   BURST credit period ...
 *   credit_share_pct    50       ... and the share of one CPU a task may use as BURST in it
 *   starve_ns           100 ms   starvation bound; the guard acts at half (generous: qemu TCG
 *                                inflates every time by ~10x)
 *   antimig_ns          500 us   anti-migration window after a BURST placement
 *   trace_steps         1        record steps of marked tasks (0: off)
 *   nr_cpus             -        possible CPUs (AGENT_MAX_CPUS at most): the CPU ids that exist
 *
 * Steps. For every task with a hint (its own, its process's, or inherited) agent_class records each
 * step: from becoming runnable after blocking to blocking again. It splits the step's wall time
 * into waiting (runnable, not on a CPU; summed over the step) and running, counts the step's
 * migrations and preemptions, and notes whether every run was on the home CPU the step began
 * with. The callbacks mark these points already (runnable, running, stopping, quiescent), so no
 * tracepoint is needed. Each step goes into per-class log2 histograms (`step_stats`, by the class
 * of the step's first run) and into the task's ring of its last AGENT_STEP_RING_LEN steps
 * (`step_rings`, created at its first step), which agentschedd reads for `agentsched trace`.
 * A task that leaves agent_class mid-step (switched to another sched class) has that step
 * discarded. trace_steps = 0 compiles all of it out at load time.
 *
 * Caveats: step windows use CLOCK_MONOTONIC (bpf_ktime_get_ns), the clock userspace writes them in.
 * The kfuncs and flags that differ between kernels go through compat.bpf.h, which picks the
 * running kernel's at load time.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "intf.h"
#include "compat.bpf.h"

char _license[] SEC("license") = "GPL";

#define EPERM 1		/* vmlinux.h carries no errno macros */
#define ENOMEM 12
#define EINVAL 22
#define NSEC_PER_MSEC 1000000ULL

const volatile __u64 slice_ns = 3000000;
const volatile __u32 batch_slice_mult = 4;
const volatile __u64 step_budget_ns = 8000000;
const volatile __u64 credit_period_ns = 100000000;
const volatile __u32 credit_share_pct = 50;
const volatile __u64 starve_ns = 100000000;
const volatile __u64 antimig_ns = 500000;
const volatile __u8 trace_steps = 1;
const volatile __u32 nr_cpus = 1;
const volatile __u32 abi_version = AGENT_ABI_VERSION;

/*
 * Never read: it makes clang emit intf.h's enums (and the kernel's ops flags, which userspace
 * sets before load) into the object's BTF, where userspace and AbiTests find them.
 */
const volatile struct {
	enum agent_abi abi;
	enum agent_class_id class_id;
	enum agent_dsq_id dsq_id;
	enum agent_stat_idx stat_idx;
	enum agent_exit_sizes exit_sizes;
	enum agent_limits limits;
	enum agent_latency_sizes latency_sizes;
	enum agent_step_sizes step_sizes;
	enum agent_step_time step_time;
	enum agent_step_flags step_flags;
	enum agent_hint_flags hint_flags;
	enum agent_self_step self_step;
	enum scx_ops_flags ops_flags;
} abi_anchor;

/* A struct_ops callback; the _SLEEPABLE form may block (ops.init creates DSQs). */
#define BPF_STRUCT_OPS(name, args...) \
	SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) \
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

/* Aborts the scheduler with a message; the kernel falls back to the fair class. */
#define agent_error(fmt, args...)						\
({										\
	static char ___fmt[] = fmt;						\
	unsigned long long ___param[___bpf_narg(args)];				\
	_Pragma("GCC diagnostic push")						\
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")			\
	___bpf_fill(___param, args);						\
	_Pragma("GCC diagnostic pop")						\
	scx_bpf_error_bstr(___fmt, ___param, sizeof(___param));			\
})

/* The scheduler's own per-task state. */
struct task_ctx {
	__u64 queued_at;		/* when it last became runnable and waited; 0 while on a CPU */
	__u64 running_at;		/* when it last got a CPU */
	__u64 step_ns;			/* CPU used since it last blocked */
	__u64 period_start;		/* start of its current credit period */
	__u64 period_burst_ns;		/* CPU used as BURST in that period */
	__u64 pin_until;		/* end of its anti-migration window */
	__u64 inherited_window_end;	/* window of the class inherited at fork */
	__u64 step_budget;		/* ns: the hint's step budget, or step_budget_ns; set when queued */
	__s32 pin_cpu;			/* CPU it was placed on for that window */
	__s32 last_cpu;			/* learned home CPU */
	__s32 home_cpu;			/* home CPU at its last wakeup: the hint's, or last_cpu */
	__u32 inherited_class;		/* class inherited at fork; AGENT_NR_CLASSES when none */
	__u32 run_class;		/* class it was last queued or placed with */
	__u8 step_demoted;
	__u8 period_demoted;
	__u8 window_expired;
	__u8 runnable_class;		/* class it is counted runnable in; AGENT_NR_CLASSES while not runnable */
	__u8 marked;			/* it had a hint (own, process's or inherited) when last queued */
	__u8 yielded;			/* a BATCH yield was counted for its current run */
	__u8 pad[2];
	/* The step in progress (trace_steps), see the top comment. */
	__u64 step_start;		/* when it began; 0: not in a step */
	__u64 step_wait_ns;
	__s32 step_cpu;			/* CPU of its last run in the step; -1 before the first */
	__s32 step_home;		/* home CPU at the step's first run */
	__u16 step_migrations;
	__u16 step_preemptions;
	__u8 step_class;		/* class of the step's first run */
	__u8 step_flags;		/* enum agent_step_flags so far */
	__u8 pad2[2];
	/* Self-steps (AGENT_PRCTL_STEP), honoured only while the task's hint grants them. */
	__u64 self_step_end;		/* end of the window this thread opened for itself; 0: none */
	__u64 proc_step_end;		/* on a thread-group leader: of the window opened for its process */
	__u32 self_step_seq;		/* grant_seq of the grant each was opened under */
	__u32 proc_step_seq;
};

#include "maps.bpf.h"	/* hints, stats, latency, step_stats, step_rings, exit_info: the maps user space pins and reads */

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/* The class of the task each CPU last started running; BURST for a CPU taken offline. */
__u32 cpu_class[AGENT_MAX_CPUS];
/*
 * The CPUs whose cpu_class is not BURST, which a waking BURST task may preempt: cpu_class as a
 * cpumask, so that finding one is a few word operations rather than a loop over the CPUs. Each
 * CPU updates its own bit, when its class changes between BURST and the others.
 */
struct bpf_cpumask __kptr *preemptible_cpus SEC(".data.cpumasks");
/* The NORMAL queue's virtual clock. */
__u64 vtime_now;

static void stat_inc(enum agent_stat_idx idx)
{
	__u32 zero = 0;
	__u64 *cnt = bpf_map_lookup_elem(&stats, &zero);

	if (cnt && idx < AGENT_NR_STATS)
		cnt[idx]++;
}

_Static_assert(AGENT_STAT_RUNNABLE_BURST - AGENT_STAT_RUNNABLE_NORMAL == AGENT_CLASS_BURST &&
	       AGENT_STAT_RUNNABLE_BATCH - AGENT_STAT_RUNNABLE_NORMAL == AGENT_CLASS_BATCH &&
	       AGENT_NR_STATS - AGENT_STAT_RUNNABLE_NORMAL == AGENT_NR_CLASSES,
	       "the runnable gauges follow the class ids and end the stats");

/*
 * Moves a task's runnable count to @class_id (AGENT_NR_CLASSES: not runnable). The gauge is a
 * per-CPU u64 taken down on whatever CPU the task leaves a class, so it wraps there; the sum
 * over CPUs is right (see intf.h).
 */
static void count_runnable(struct task_ctx *tctx, __u32 class_id)
{
	__u32 zero = 0, old = tctx->runnable_class;
	__u64 *cnt;

	if (old == class_id)
		return;
	cnt = bpf_map_lookup_elem(&stats, &zero);
	if (!cnt)
		return;
	/*
	 * Not runnable (AGENT_NR_CLASSES) maps to AGENT_NR_STATS, just past the gauges. The bound is
	 * checked after the addition, behind a barrier: the verifier tracks the sum of a class id
	 * below 3 and the base only as known bits, a range that can run past the value's end.
	 */
	old += AGENT_STAT_RUNNABLE_NORMAL;
	barrier_var(old);
	if (old < AGENT_NR_STATS)
		cnt[old]--;
	class_id += AGENT_STAT_RUNNABLE_NORMAL;
	barrier_var(class_id);
	if (class_id < AGENT_NR_STATS)
		cnt[class_id]++;
	tctx->runnable_class = class_id - AGENT_STAT_RUNNABLE_NORMAL;
}

/* The log2 histogram bucket of @ns: b for [2^b, 2^(b+1)), the last one for everything longer. */
static __u32 log2_bucket(__u64 ns)
{
	__u32 bucket = 0, shift;

	/* A binary search of the top set bit: six steps, where a loop over the bits took up to 31. */
	for (shift = 32; shift; shift >>= 1) {
		if (ns >> shift) {
			ns >>= shift;
			bucket += shift;
		}
	}
	return bucket < AGENT_LAT_BUCKETS - 1 ? bucket : AGENT_LAT_BUCKETS - 1;
}

static void record_wait(__u32 class_id, __u64 wait_ns)
{
	__u32 zero = 0;
	struct agent_latency *lat = bpf_map_lookup_elem(&latency, &zero);

	if (!lat || class_id >= AGENT_NR_CLASSES)
		return;
	lat->buckets[class_id][log2_bucket(wait_ns)]++;
	lat->wait_sum_ns[class_id] += wait_ns;
	if (wait_ns > lat->max_wait_ns[class_id])
		lat->max_wait_ns[class_id] = wait_ns;
}

static __u16 sat_inc16(__u16 v)
{
	return v < 0xffff ? v + 1 : v;
}

static void step_time(struct agent_step_stats *st, __u32 class_id, enum agent_step_time t, __u64 ns)
{
	if (class_id >= AGENT_NR_CLASSES || t >= AGENT_STEP_NR_TIMES)
		return;
	st->buckets[class_id][t][log2_bucket(ns)]++;
	st->sum_ns[class_id][t] += ns;
}

/* Keeps the finished step in the task's ring, under the ring's lock (user space reads with BPF_F_LOCK). */
static void ring_step(struct task_struct *p, struct task_ctx *tctx, __u64 now, __u64 total)
{
	struct agent_step_ring *ring;
	struct agent_step *rec;
	__u64 n;

	ring = bpf_task_storage_get(&step_rings, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ring)
		return;
	bpf_spin_lock(&ring->lock);
	n = ring->steps + 1;
	rec = &ring->ring[(n - 1) & (AGENT_STEP_RING_LEN - 1)];
	rec->seq = n;
	rec->end_ns = now;
	rec->total_ns = total;
	rec->wait_ns = tctx->step_wait_ns;
	rec->run_ns = tctx->step_ns;
	rec->cpu = tctx->step_cpu;
	rec->home_cpu = tctx->step_home;
	rec->migrations = tctx->step_migrations;
	rec->preemptions = tctx->step_preemptions;
	rec->class_id = tctx->step_class;
	rec->flags = tctx->step_flags;
	ring->steps = n;
	bpf_spin_unlock(&ring->lock);
}

/* The task blocked: records the step it ends (a marked task's, that ran) and closes it. */
static void end_step(struct task_struct *p, struct task_ctx *tctx)
{
	struct agent_step_stats *st;
	__u64 now, total;
	__u32 zero = 0, c = tctx->step_class;

	if (!tctx->step_start)
		return;
	if (tctx->marked && c < AGENT_NR_CLASSES && (st = bpf_map_lookup_elem(&step_stats, &zero))) {
		now = bpf_ktime_get_ns();
		total = now - tctx->step_start;
		step_time(st, c, AGENT_STEP_TOTAL, total);
		step_time(st, c, AGENT_STEP_WAIT, tctx->step_wait_ns);
		step_time(st, c, AGENT_STEP_RUN, tctx->step_ns);
		st->steps[c]++;
		st->migrations[c] += tctx->step_migrations;
		st->preemptions[c] += tctx->step_preemptions;
		if (tctx->step_flags & AGENT_STEP_F_HOME)
			st->home_hits[c]++;
		ring_step(p, tctx, now, total);
	}
	tctx->step_start = 0;
}

static struct task_ctx *lookup_ctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, NULL, 0);
}

static struct agent_hint *lookup_hint(struct task_struct *p)
{
	struct agent_hint *hint = bpf_task_storage_get(&hints, p, NULL, 0);

	if (!hint && p->group_leader != p)
		hint = bpf_task_storage_get(&hints, p->group_leader, NULL, 0);
	return hint;
}

static bool cpu_allowed(struct task_struct *p, s32 cpu)
{
	return cpu >= 0 && bpf_cpumask_test_cpu(cpu, p->cpus_ptr);
}

/*
 * The end of the self-step window open for @p (its own, or its process's) under the grant @hint
 * holds; 0 when there is none. A window opened under an earlier grant is void: a revoked and
 * renewed grant (a new grant_seq) does not bring it back, and a thread with a grant of its own
 * is not covered by a window its process opened under the process's grant.
 */
static __u64 self_step_end(struct task_struct *p, struct task_ctx *tctx, struct agent_hint *hint)
{
	struct task_struct *leader = p->group_leader;
	struct task_ctx *lctx;
	__u32 seq = hint->grant_seq;
	__u64 end = 0;

	if (!(hint->flags & AGENT_HINT_F_SELF_STEP))
		return 0;
	if (tctx->self_step_seq == seq)
		end = tctx->self_step_end;
	lctx = leader == p ? tctx : lookup_ctx(leader);
	if (lctx && lctx->proc_step_seq == seq && lctx->proc_step_end > end)
		end = lctx->proc_step_end;
	return end;
}

/*
 * The class the hint (own, group leader's, or inherited) asks for, before budgets, and the end
 * of the window it is asked for (0: none) in @window_endp. An open self-step makes it BURST.
 */
static __u32 hinted_class(struct task_struct *p, struct task_ctx *tctx, struct agent_hint *hint,
			  __u64 now, __u64 *window_endp)
{
	__u32 class_id;
	__u64 window_end, self_end;

	*window_endp = 0;
	if (hint && (self_end = self_step_end(p, tctx, hint)) > now) {
		tctx->window_expired = 0;
		*window_endp = self_end;
		return AGENT_CLASS_BURST;
	}
	if (hint) {
		class_id = hint->class_id;
		window_end = hint->window_end_ns;
	} else {
		class_id = tctx->inherited_class;
		window_end = tctx->inherited_window_end;
	}
	if (class_id >= AGENT_NR_CLASSES)
		return AGENT_CLASS_NORMAL;
	if (window_end && now > window_end) {
		if (!tctx->window_expired) {
			tctx->window_expired = 1;
			stat_inc(AGENT_STAT_WINDOW_EXPIRED);
		}
		return AGENT_CLASS_NORMAL;
	}
	tctx->window_expired = 0;
	*window_endp = window_end;
	return class_id;
}

/*
 * The class a task is scheduled in now: its hint's, unless a window or budget says NORMAL.
 * Also notes the hint's step budget, so ops.stopping need not look the hint up again.
 */
static __u32 effective_class(struct task_struct *p, struct task_ctx *tctx, struct agent_hint *hint,
			     __u64 now)
{
	__u64 window_end;
	__u32 class_id = hinted_class(p, tctx, hint, now, &window_end);

	tctx->step_budget = hint && hint->step_budget_us ? (__u64)hint->step_budget_us * 1000 : step_budget_ns;
	tctx->marked = hint || tctx->inherited_class < AGENT_NR_CLASSES;
	tctx->home_cpu = hint && hint->home_cpu >= 0 ? hint->home_cpu : tctx->last_cpu;

	if (class_id != AGENT_CLASS_BURST)
		return class_id;
	if (tctx->step_demoted)
		return AGENT_CLASS_NORMAL;
	if (tctx->period_demoted && now - tctx->period_start < credit_period_ns)
		return AGENT_CLASS_NORMAL;
	return AGENT_CLASS_BURST;
}

static __u64 class_slice(__u32 class_id)
{
	return class_id == AGENT_CLASS_BATCH ? slice_ns * batch_slice_mult : slice_ns;
}

static void count_dispatch(__u32 class_id)
{
	if (class_id == AGENT_CLASS_BURST)
		stat_inc(AGENT_STAT_DISPATCH_BURST);
	else if (class_id == AGENT_CLASS_BATCH)
		stat_inc(AGENT_STAT_DISPATCH_BATCH);
	else
		stat_inc(AGENT_STAT_DISPATCH_NORMAL);
}

/* @cpu's slot in cpu_class; NULL when out of range (or < 0). */
static __u32 *cpu_class_slot(s32 cpu)
{
	__u32 idx = cpu;

	if (idx >= AGENT_MAX_CPUS)
		return NULL;
	barrier_var(idx);	/* keeps the mask below, which the verifier needs to bound the index */
	return &cpu_class[idx & (AGENT_MAX_CPUS - 1)];
}

/* Records that @cpu, the CPU this runs on, now runs a task of @class_id. */
static void set_cpu_class(s32 cpu, __u32 class_id)
{
	__u32 *slot = cpu_class_slot(cpu);
	struct bpf_cpumask *mask;
	bool was_burst;

	if (!slot)
		return;
	was_burst = *slot == AGENT_CLASS_BURST;
	*slot = class_id;
	if (was_burst == (class_id == AGENT_CLASS_BURST) || !(mask = preemptible_cpus))
		return;
	if (was_burst)
		bpf_cpumask_set_cpu(cpu, mask);
	else
		bpf_cpumask_clear_cpu(cpu, mask);
}

static bool runs_burst(s32 cpu)
{
	__u32 *slot = cpu_class_slot(cpu);

	return slot && *slot == AGENT_CLASS_BURST;
}

/* @p is runnable on agent_class (queued or running: a running task stays queued). */
static bool task_queued(struct task_struct *p)
{
	return p->scx.flags & scx_flag(scx_ent_flags, SCX_TASK_QUEUED);
}

/* Whether @burst_ns of BURST CPU time in one credit period uses up the task's share. */
static bool credit_spent(__u64 burst_ns)
{
	return burst_ns * 100 >= credit_period_ns * credit_share_pct;
}

/*
 * The class the current task (a waker) runs in; AGENT_NR_CLASSES when it does not run on
 * agent_class (partial mode: a fair-class task; or an interrupt on an idle CPU).
 */
static __u32 waker_class(void)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct task_ctx *tctx;

	if (!task_queued(cur))
		return AGENT_NR_CLASSES;
	tctx = lookup_ctx(cur);
	return tctx ? tctx->run_class : AGENT_NR_CLASSES;
}

/* A CPU p may use that runs NORMAL or BATCH work, preferring @first; -1 if every one runs BURST. */
static s32 preemptible_cpu(struct task_struct *p, s32 first)
{
	struct bpf_cpumask *mask = preemptible_cpus;
	__u32 cpu;

	if (cpu_allowed(p, first) && !runs_burst(first))
		return first;
	if (!mask)
		return -1;
	cpu = bpf_cpumask_any_and_distribute(p->cpus_ptr, (const struct cpumask *)mask);
	return cpu < nr_cpus ? cpu : -1;
}

enum placement {
	PLACE_IDLE,	/* an idle CPU: just queue there */
	PLACE_SYNC,	/* the waker's CPU: queue at its head, the waker is about to block */
	PLACE_PREEMPT,	/* a CPU running NORMAL/BATCH: queue at its head and kick it */
};

/* A queued NORMAL or BATCH task is due for the starvation guard once it has waited this long. */
#define GUARD_DUE_NS	(starve_ns / 2)
/* The longest a scan that found nothing due is trusted: a backstop for what a scan can miss. */
#define GUARD_RECHECK_NS	(starve_ns / 8)
/*
 * The most tasks one walk of a queue looks at (see the top comment): with hundreds of runnable
 * threads some task is always due, and every ops.dispatch was two walks over all of them.
 */
#define GUARD_WALK_MAX	64

/*
 * Until this time no task in the NORMAL and BATCH queues is due, so the guard's checks on the hot
 * paths are one comparison. It is kept at or before the earliest due time of the tasks a scan
 * looks at (the first GUARD_WALK_MAX of each queue): ops.enqueue lowers it for each task it queues
 * there (guard_lower), and a scan that finds nothing due sets it to the earliest due time it saw
 * (guard_note_clear), at most GUARD_RECHECK_NS ahead.
 * Both update it by compare-and-swap, so a scan never raises it past a task queued while it ran;
 * what a scan can still miss (a task queued again with its old wait while the scan ran) is found by
 * the next one, GUARD_RECHECK_NS later at most.
 */
__u64 guard_clear_until;

/* A task due at @due was queued: the guard must look again by then. */
static void guard_lower(__u64 due)
{
	__u64 cur = guard_clear_until, seen;
	int i;

	for (i = 0; i < 16 && due < cur; i++) {
		seen = __sync_val_compare_and_swap(&guard_clear_until, cur, due);
		if (seen == cur)
			return;
		cur = seen;
	}
}

/* A scan that started when guard_clear_until was @before found nothing due before @next_due. */
static void guard_note_clear(__u64 before, __u64 next_due)
{
	__sync_val_compare_and_swap(&guard_clear_until, before, next_due);
}

/* The due task the guard serves next: the one that has waited longest, in either queue. */
struct guard_pick {
	__u64 queued_at;	/* the oldest due task's; ~0ULL when none is due */
	__u64 dsq_id;
	s32 pid;
};

/*
 * Looks at every task of @dsq_id that may run on @cpu (any CPU if @cpu < 0) for one that is due
 * (has waited GUARD_DUE_NS). The guard acts at half of starve_ns so that the other half covers the
 * tick that ends a CPU's current run, the BURST work already queued on that CPU, and the other due
 * tasks served before this one. Without @oldest it stops at the first due task; with it, it walks
 * the queue (its first GUARD_WALK_MAX tasks) and keeps in *@oldest the longest-waiting due task
 * (its queued_at and pid), so that ops.dispatch serves due tasks oldest first, across both queues,
 * wherever they are in them (in the vtime-ordered NORMAL queue waking tasks can go in ahead of one
 * that waits). Lowers *@next_due to the earliest due time of the tasks it passed, whatever their
 * CPUs. The walk runs only when guard_clear_until has passed: when a task is due, and once per
 * GUARD_RECHECK_NS otherwise.
 */
static bool queue_starving(__u64 dsq_id, __u64 now, s32 cpu, struct guard_pick *oldest, __u64 *next_due)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	bool found = false;
	__u32 seen = 0;
	__u64 due;

	if (!scx_bpf_dsq_nr_queued(dsq_id))
		return false;	/* the common case, without taking the queue's lock */
	bpf_for_each(scx_dsq, p, dsq_id, 0) {
		if (++seen > GUARD_WALK_MAX)
			break;
		tctx = lookup_ctx(p);
		if (!tctx || !tctx->queued_at)
			continue;
		due = tctx->queued_at + GUARD_DUE_NS;
		if (due > now || (cpu >= 0 && !cpu_allowed(p, cpu))) {
			if (due < *next_due)
				*next_due = due;
			continue;
		}
		found = true;
		if (!oldest)
			break;
		if (tctx->queued_at < oldest->queued_at) {
			oldest->queued_at = tctx->queued_at;
			oldest->dsq_id = dsq_id;
			oldest->pid = p->pid;
		}
	}
	return found;
}

/*
 * Moves the task @pick found to this CPU's local queue, if it is still among the first
 * GUARD_WALK_MAX of its queue (tasks queued ahead of it since the scan can push it back; then
 * ops.dispatch serves the queues in order this time and the next dispatch scans again).
 */
static bool guard_serve(const struct guard_pick *pick)
{
	struct task_struct *p;
	__u32 seen = 0;

	bpf_for_each(scx_dsq, p, pick->dsq_id, 0) {
		if (++seen > GUARD_WALK_MAX)
			break;
		if (p->pid == pick->pid)
			return dsq_move_task(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL);
	}
	return false;
}

/*
 * The starvation guard is due: a NORMAL or BATCH task is starving (and may run on @cpu, if >= 0).
 * With @oldest (from ops.dispatch), both queues are walked (their first GUARD_WALK_MAX tasks) and
 * the longest-waiting due task is left in *@oldest; without it the walk stops at the first due
 * task.
 */
static bool guard_scan(__u64 now, s32 cpu, struct guard_pick *oldest)
{
	__u64 before = guard_clear_until, next_due = now + GUARD_RECHECK_NS;
	bool batch;

	if (now < before)
		return false;
	batch = queue_starving(AGENT_DSQ_BATCH, now, cpu, oldest, &next_due);
	if ((batch && !oldest) || queue_starving(AGENT_DSQ_NORMAL, now, cpu, oldest, &next_due) || batch)
		return true;
	guard_note_clear(before, next_due);
	return false;
}

static bool guard_due(__u64 now, s32 cpu)
{
	return guard_scan(now, cpu, NULL);
}

/* Where a waking BURST task runs (see the top comment), and how it gets that CPU. */
static s32 pick_burst_cpu(struct task_struct *p, s32 prev_cpu, u64 wake_flags, struct task_ctx *tctx,
			  enum placement *how)
{
	s32 cpu, home = tctx->home_cpu, this_cpu = bpf_get_smp_processor_id();
	__u32 waker = AGENT_NR_CLASSES;
	bool is_idle = false;

	*how = PLACE_IDLE;
	if (cpu_allowed(p, prev_cpu) && scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;
	/*
	 * A synchronous wakeup (a pipe or socket hand-off: the waker is about to block) by a task on
	 * agent_class, with nothing else queued on the waker's CPU to go before the wakee or to be
	 * stacked behind it.
	 */
	if ((wake_flags & scx_flag(scx_wake_flags, SCX_WAKE_SYNC)) && cpu_allowed(p, this_cpu) &&
	    !scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL))
		waker = waker_class();
	if (waker == AGENT_CLASS_BURST) {
		*how = PLACE_SYNC;
		return this_cpu;
	}
	if (home != prev_cpu && cpu_allowed(p, home) && scx_bpf_test_and_clear_cpu_idle(home))
		return home;
	/*
	 * The kernel's idle selection knows the topology and costs word operations on cpumasks, not
	 * a loop over the CPUs: a whole idle core first (SMT), then prev_cpu's LLC, its node, any.
	 * Without SCX_WAKE_SYNC, which would make it answer the (busy) waker's CPU: handled above.
	 */
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags & ~scx_flag(scx_wake_flags, SCX_WAKE_SYNC), &is_idle);
	if (is_idle)
		return cpu;
	/* No idle CPU: a NORMAL waker's CPU frees up first (its slice is short, unlike BATCH's). */
	if (waker == AGENT_CLASS_NORMAL) {
		*how = PLACE_SYNC;
		return this_cpu;
	}
	/* Preempting the waker's own CPU sends no IPI to another one. */
	*how = PLACE_PREEMPT;
	return preemptible_cpu(p, waker < AGENT_NR_CLASSES ? this_cpu : prev_cpu);
}

s32 BPF_STRUCT_OPS(agent_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx = lookup_ctx(p);
	struct agent_hint *hint;
	__u64 now = bpf_ktime_get_ns();
	enum placement how;
	bool is_idle = false;
	__u32 class_id;
	s32 cpu;

	if (!tctx)
		return prev_cpu;
	hint = lookup_hint(p);
	class_id = effective_class(p, tctx, hint, now);
	tctx->run_class = class_id;
	count_runnable(tctx, class_id);

	if (class_id != AGENT_CLASS_BURST) {
		cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
		if (is_idle) {
			dsq_insert(p, SCX_DSQ_LOCAL, class_slice(class_id), 0);
			stat_inc(AGENT_STAT_DIRECT_IDLE);
			count_dispatch(class_id);
		}
		return cpu;
	}

	if (guard_due(now, -1))
		return prev_cpu;	/* the starvation guard goes first: no direct placement, ops.enqueue queues it */
	cpu = pick_burst_cpu(p, prev_cpu, wake_flags, tctx, &how);
	if (cpu < 0)
		return prev_cpu;	/* every CPU runs BURST: wait in the BURST queue */
	dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, how == PLACE_IDLE ? 0 : scx_flag(scx_enq_flags, SCX_ENQ_HEAD));
	count_dispatch(AGENT_CLASS_BURST);
	if (how == PLACE_PREEMPT) {
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
		stat_inc(AGENT_STAT_KICK_PREEMPT);
	} else if (how == PLACE_IDLE) {
		stat_inc(AGENT_STAT_DIRECT_IDLE);
	}
	tctx->pin_cpu = cpu;
	tctx->pin_until = now + antimig_ns;
	return cpu;
}

/*
 * Gets a CPU to pick up a queued BURST task: wake an idle one, or preempt NORMAL/BATCH work
 * (not while the starvation guard is due: that work may be the starving task).
 */
static void kick_for_burst(struct task_struct *p, s32 prefer, bool guard)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

	if (cpu >= 0) {
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}
	if (guard)
		return;
	cpu = preemptible_cpu(p, prefer);
	if (cpu >= 0) {
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
		stat_inc(AGENT_STAT_KICK_PREEMPT);
	}
}

void BPF_STRUCT_OPS(agent_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_ctx(p);
	__u64 now = bpf_ktime_get_ns(), vtime;
	__u32 class_id;
	bool guard;

	if (!tctx) {
		/*
		 * No task state (its allocation failed in init_task): the kernel's global FIFO, never
		 * the vtime-ordered NORMAL queue, where a FIFO insert is an error that ejects us.
		 */
		dsq_insert(p, SCX_DSQ_GLOBAL, slice_ns, enq_flags);
		return;
	}
	class_id = effective_class(p, tctx, lookup_hint(p), now);
	tctx->run_class = class_id;
	count_runnable(tctx, class_id);
	if (!tctx->queued_at)
		tctx->queued_at = now;
	count_dispatch(class_id);

	switch (class_id) {
	case AGENT_CLASS_BURST:
		guard = guard_due(now, -1);
		if (now < tctx->pin_until && cpu_allowed(p, tctx->pin_cpu) && !guard) {
			/* Inside its anti-migration window: back onto the CPU it was placed on. */
			dsq_insert(p, SCX_DSQ_LOCAL_ON | tctx->pin_cpu, slice_ns, enq_flags);
			if (!runs_burst(tctx->pin_cpu))
				scx_bpf_kick_cpu(tctx->pin_cpu, SCX_KICK_PREEMPT);
			return;
		}
		/*
		 * A local queue would bypass ops.dispatch, so a due guard sends BURST through the shared
		 * queue and ends its anti-migration window: a move now is the guard's, not a leak.
		 */
		if (guard)
			tctx->pin_until = 0;
		dsq_insert(p, AGENT_DSQ_BURST, slice_ns, enq_flags);
		kick_for_burst(p, scx_bpf_task_cpu(p), guard);
		break;
	case AGENT_CLASS_BATCH:
		guard_lower(tctx->queued_at + GUARD_DUE_NS);
		dsq_insert(p, AGENT_DSQ_BATCH, class_slice(class_id), enq_flags);
		break;
	default:
		/* Weighted vtime; a sleeper's credit is capped at one slice. */
		vtime = p->scx.dsq_vtime;
		if ((s64)(vtime - (vtime_now - slice_ns)) < 0)
			vtime = vtime_now - slice_ns;
		guard_lower(tctx->queued_at + GUARD_DUE_NS);
		dsq_insert_vtime(p, AGENT_DSQ_NORMAL, slice_ns, vtime, enq_flags);
		break;
	}
}

/*
 * True when @prev, a NORMAL task (still NORMAL: @class_id, its class now) that used up its slice
 * and is still runnable, keeps its CPU for another slice (the caller found the BURST and NORMAL
 * queues empty and the guard not due, so only BATCH work waits). It must be in a step: its CPU time
 * since it last blocked, counting the run in progress, is below step_budget_ns (the scheduler's,
 * not a hint's: a hint's budget is for BURST), and it gets at most what is left of that. A CPU hog
 * is past it after a few slices and then takes turns with the BATCH head. Without this a NORMAL
 * step that outlasted its slice (a BURST tool that its credit demoted, queued again as NORMAL) gave
 * its CPU to a BATCH task and waited for that one's slice_ns and a tick.
 */
static bool keep_normal_step(struct task_struct *prev, struct task_ctx *tctx, __u32 class_id,
			     __u64 now)
{
	__u64 used = tctx->step_ns + (now - tctx->running_at), slice = slice_ns;

	if (tctx->run_class != AGENT_CLASS_NORMAL || class_id != AGENT_CLASS_NORMAL ||
	    used >= step_budget_ns)
		return false;
	if (step_budget_ns - used < slice)
		slice = step_budget_ns - used;
	task_set_slice(prev, slice);
	return true;
}

/*
 * True when @prev, a BURST task that used up its slice and is still runnable, keeps its CPU for
 * another slice, whether or not other BURST work waits (the top comment says why). It
 * must still be BURST (@class_id, its class now) and within its budgets, counting the run in
 * progress (ops.stopping charges it only when the task stops), and gets at most what is left of
 * them, so that the next check comes when one runs out. Without this a lone BURST step longer than
 * a slice went back through ops.enqueue: a BATCH task took its CPU, and the kick sent to find it
 * another one preempted more BATCH work or pulled the step to another CPU.
 */
static bool keep_burst_running(struct task_struct *prev, struct task_ctx *tctx, __u32 class_id,
			       __u64 now)
{
	__u64 ran, step_used, burst_used, burst_cap, slice = slice_ns;

	if (tctx->run_class != AGENT_CLASS_BURST || class_id != AGENT_CLASS_BURST)
		return false;
	ran = now - tctx->running_at;
	step_used = tctx->step_ns + ran;
	/* As ops.stopping will count it: a period credit_period_ns old has rolled over. */
	burst_used = now - tctx->period_start >= credit_period_ns ? ran : tctx->period_burst_ns + ran;
	if (step_used >= tctx->step_budget || credit_spent(burst_used))
		return false;
	burst_cap = (credit_period_ns * credit_share_pct + 99) / 100;	/* > burst_used, as it is not spent */
	if (tctx->step_budget - step_used < slice)
		slice = tctx->step_budget - step_used;
	if (burst_cap - burst_used < slice)
		slice = burst_cap - burst_used;
	task_set_slice(prev, slice);
	return true;
}

/* @tctx's task, running on @cpu, is in @class_id from now on. */
static void reclassify_running(struct task_ctx *tctx, __u32 class_id, s32 cpu)
{
	if (class_id == tctx->run_class)
		return;
	tctx->run_class = class_id;
	count_runnable(tctx, class_id);
	set_cpu_class(cpu, class_id);
}

void BPF_STRUCT_OPS(agent_dispatch, s32 cpu, struct task_struct *prev)
{
	struct guard_pick oldest = { .queued_at = ~0ULL };
	__u64 now = bpf_ktime_get_ns();
	struct task_ctx *prev_ctx;
	__u32 prev_class = AGENT_NR_CLASSES;

	/*
	 * The guard first, for tasks this CPU may run: it takes the one that has waited longest
	 * (earliest deadline first, so that a due task is served after the ones due before it, not
	 * after every due task ahead of it in either queue).
	 */
	if (guard_scan(now, cpu, &oldest) && guard_serve(&oldest)) {
		stat_inc(AGENT_STAT_STARVE_DISPATCH);
		return;
	}
	/* @prev's state when its slice ended and it is still runnable (NULL when it blocked). */
	prev_ctx = prev && task_queued(prev) ? lookup_ctx(prev) : NULL;
	/*
	 * The class @prev would be queued in now, taken once for the checks below. A BURST step
	 * runs on within its budgets even when other BURST work waits (see the top comment).
	 */
	if (prev_ctx && prev_ctx->run_class == AGENT_CLASS_BURST) {
		prev_class = effective_class(prev, prev_ctx, lookup_hint(prev), now);
		if (keep_burst_running(prev, prev_ctx, prev_class, now))
			return;
	}
	if (dsq_move_to_local(AGENT_DSQ_BURST))
		return;
	if (prev_ctx && prev_class == AGENT_NR_CLASSES)
		prev_class = effective_class(prev, prev_ctx, lookup_hint(prev), now);
	if (dsq_move_to_local(AGENT_DSQ_NORMAL) ||
	    (prev_ctx && keep_normal_step(prev, prev_ctx, prev_class, now)))
		return;
	if (dsq_move_to_local(AGENT_DSQ_BATCH))
		return;
	/*
	 * Nothing waits, so the kernel keeps @prev running (a BATCH task; a NORMAL one past its step
	 * budget; a BURST one past its budgets, until it stops and is queued as NORMAL). With its
	 * class's slice rather than the kernel's default 20 ms, so that this is decided again soon.
	 * It skips ops.enqueue, where a task's class is taken: a hint set while it ran (a spinner
	 * marked BATCH, say) is taken here instead, for the next slice, the gauges and BURST kicks.
	 * Not for a BURST task, whose run in progress ops.stopping charges to its credit as BURST.
	 */
	if (!prev_ctx)
		return;
	if (prev_ctx->run_class != AGENT_CLASS_BURST)
		reclassify_running(prev_ctx, prev_class, cpu);
	task_set_slice(prev, class_slice(prev_ctx->run_class));
}

/*
 * Every tick of a CPU running one of our tasks. ops.dispatch, where the guard and the queue order
 * act, runs only when a CPU's local queue is empty and its current task gives the CPU up, so the
 * tick ends the current run early when:
 *   - the starvation guard is due (a BURST ping-pong pair could otherwise keep the local queue
 *     busy for good);
 *   - a BATCH task has run slice_ns while BURST or NORMAL work waits: BATCH's longer slice is
 *     for when nobody else wants the CPU, and NORMAL should not wait out all of it.
 */
void BPF_STRUCT_OPS(agent_tick, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_ctx(p);
	__u64 now = bpf_ktime_get_ns(), ran;

	if (!tctx)
		return;
	ran = now - tctx->running_at;
	/*
	 * A NORMAL or BATCH task (perhaps the head the guard just served) keeps at least slice_ns,
	 * so that an overloaded machine, where some head is nearly always due, does not switch at
	 * every tick.
	 */
	if ((tctx->run_class == AGENT_CLASS_BURST || ran >= slice_ns) && now >= guard_clear_until &&
	    guard_due(now, scx_bpf_task_cpu(p))) {
		task_set_slice(p, 0);
		return;
	}
	if (tctx->run_class == AGENT_CLASS_BATCH && ran >= slice_ns &&
	    (scx_bpf_dsq_nr_queued(AGENT_DSQ_BURST) || scx_bpf_dsq_nr_queued(AGENT_DSQ_NORMAL))) {
		task_set_slice(p, 0);
		/* Once per run: if nothing else takes the CPU, the task keeps it and may yield again. */
		if (!tctx->yielded) {
			tctx->yielded = 1;
			stat_inc(AGENT_STAT_BATCH_YIELD);
		}
	}
}

void BPF_STRUCT_OPS(agent_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_ctx(p);
	__u64 now = bpf_ktime_get_ns();

	if (!tctx)
		return;
	/* Kept when it was queued already (a save/restore of a queued task: it has waited since). */
	if (!tctx->queued_at)
		tctx->queued_at = now;
	if (trace_steps && !tctx->step_start) {
		/* Woken (or new): a step begins. */
		tctx->step_start = now;
		tctx->step_wait_ns = 0;
		tctx->step_cpu = -1;
		tctx->step_migrations = 0;
		tctx->step_preemptions = 0;
		tctx->step_class = AGENT_NR_CLASSES;
	}
	/*
	 * Counted at once in the class it last ran in: some paths make a task runnable without
	 * ops.select_cpu or ops.enqueue (bypass mode, an exiting task). Those move it to the class
	 * it gets now.
	 */
	count_runnable(tctx, tctx->run_class);
}

void BPF_STRUCT_OPS(agent_running, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_ctx(p);
	__u64 now = bpf_ktime_get_ns();
	s32 cpu = scx_bpf_task_cpu(p);

	if (!tctx)
		return;
	if (tctx->queued_at) {
		record_wait(tctx->run_class, now - tctx->queued_at);
		if (trace_steps)
			tctx->step_wait_ns += now - tctx->queued_at;
		tctx->queued_at = 0;
	}
	if (trace_steps && tctx->step_start) {
		if (tctx->step_cpu < 0) {
			/* The step's first run: its class and home CPU are this wakeup's. */
			tctx->step_class = tctx->run_class;
			tctx->step_home = tctx->home_cpu;
			tctx->step_flags = AGENT_STEP_F_HOME;
		} else if (cpu != tctx->step_cpu) {
			tctx->step_migrations = sat_inc16(tctx->step_migrations);
		}
		if (cpu != tctx->step_home)
			tctx->step_flags &= ~AGENT_STEP_F_HOME;
		tctx->step_cpu = cpu;
	}
	tctx->running_at = now;
	tctx->yielded = 0;
	if (tctx->run_class == AGENT_CLASS_BURST && now < tctx->pin_until && cpu != tctx->pin_cpu)
		stat_inc(AGENT_STAT_MIGRATE_IN_WINDOW);
	tctx->last_cpu = cpu;
	set_cpu_class(cpu, tctx->run_class);
	if (tctx->run_class == AGENT_CLASS_NORMAL && (s64)(p->scx.dsq_vtime - vtime_now) > 0)
		vtime_now = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(agent_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = lookup_ctx(p);
	__u64 now = bpf_ktime_get_ns(), ran;

	if (!tctx)
		return;
	ran = now - tctx->running_at;
	tctx->step_ns += ran;
	/*
	 * Still runnable: it waits from now. Set here, not only in ops.enqueue, because a task that a
	 * higher sched class preempted goes back to its local queue without ops.enqueue.
	 */
	if (runnable && !tctx->queued_at)
		tctx->queued_at = now;
	if (trace_steps && runnable && tctx->step_start)
		tctx->step_preemptions = sat_inc16(tctx->step_preemptions);

	if (tctx->run_class == AGENT_CLASS_NORMAL) {
		/*
		 * Charge the time it ran, scaled by weight (100 is nice 0). Not slice_ns - p->scx.slice:
		 * the kernel may have refilled the slice beyond slice_ns, and that u64 difference would
		 * wrap, throwing the task so far back in the queue that it never ran again.
		 */
		task_set_dsq_vtime(p, p->scx.dsq_vtime + ran * 100 / (p->scx.weight ? p->scx.weight : 1));
		return;
	}
	if (tctx->run_class != AGENT_CLASS_BURST)
		return;
	if (now - tctx->period_start >= credit_period_ns) {
		tctx->period_start = now;
		tctx->period_burst_ns = 0;
		tctx->period_demoted = 0;
	}
	tctx->period_burst_ns += ran;
	if (!tctx->period_demoted && credit_spent(tctx->period_burst_ns)) {
		tctx->period_demoted = 1;
		tctx->step_flags |= AGENT_STEP_F_DEMOTED;
		stat_inc(AGENT_STAT_DEMOTE_PERIOD);
	}
	if (!tctx->step_demoted && tctx->step_ns > tctx->step_budget) {
		tctx->step_demoted = 1;
		tctx->step_flags |= AGENT_STEP_F_DEMOTED;
		stat_inc(AGENT_STAT_DEMOTE_STEP);
	}
}

/*
 * The task leaves agent_class (another sched class, or it exits): the callbacks stop until it
 * comes back, so the step in progress, its wait and its step budget would span the time away.
 * Discard them; it starts afresh when it returns.
 */
void BPF_STRUCT_OPS(agent_disable, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_ctx(p);

	if (!tctx)
		return;
	tctx->step_start = 0;
	tctx->queued_at = 0;
	tctx->step_ns = 0;
	tctx->step_demoted = 0;
}

void BPF_STRUCT_OPS(agent_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = lookup_ctx(p);

	if (!tctx)
		return;
	/*
	 * Not runnable any more: it blocked, or its scheduling is being changed (a save/restore
	 * dequeue, which ops.runnable follows). Migrations between CPUs call neither.
	 */
	count_runnable(tctx, AGENT_NR_CLASSES);
	if (!(deq_flags & scx_flag(scx_deq_flags, SCX_DEQ_SLEEP)))
		return;
	/* It blocked: its next run is a new step. */
	if (trace_steps)
		end_step(p, tctx);
	tctx->step_ns = 0;
	tctx->step_demoted = 0;
}

s32 BPF_STRUCT_OPS(agent_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_struct *parent;
	struct task_ctx *tctx, *pctx;
	struct agent_hint *phint;
	__u64 window_end;
	__u32 class_id;

	tctx = bpf_task_storage_get(&task_ctxs, p, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	tctx->pin_cpu = -1;
	tctx->last_cpu = -1;
	tctx->home_cpu = -1;
	tctx->step_cpu = -1;
	tctx->inherited_class = AGENT_NR_CLASSES;
	tctx->runnable_class = AGENT_NR_CLASSES;
	if (!args->fork)
		return 0;

	/* Forked: current is the parent. BURST and BATCH pass to the child with their window. */
	parent = bpf_get_current_task_btf();
	pctx = lookup_ctx(parent);
	if (!pctx)
		return 0;
	phint = lookup_hint(parent);
	class_id = hinted_class(parent, pctx, phint, bpf_ktime_get_ns(), &window_end);
	if (class_id == AGENT_CLASS_BURST || class_id == AGENT_CLASS_BATCH) {
		tctx->inherited_class = class_id;
		tctx->inherited_window_end = window_end;
		stat_inc(AGENT_STAT_INHERITED);
	}
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(agent_init)
{
	struct bpf_cpumask *mask;
	s32 ret;

	/* Every CPU starts as NORMAL in cpu_class (0), so every one is preemptible. */
	mask = bpf_cpumask_create();
	if (!mask)
		return -ENOMEM;
	bpf_cpumask_setall(mask);
	mask = bpf_kptr_xchg(&preemptible_cpus, mask);
	if (mask)
		bpf_cpumask_release(mask);

	if ((ret = scx_bpf_create_dsq(AGENT_DSQ_BURST, -1)) ||
	    (ret = scx_bpf_create_dsq(AGENT_DSQ_NORMAL, -1)) ||
	    (ret = scx_bpf_create_dsq(AGENT_DSQ_BATCH, -1))) {
		agent_error("creating the dispatch queues failed: %d", ret);
		return ret;
	}
	return 0;
}

/*
 * CPU hotplug. Without these two callbacks the kernel ejects the scheduler whenever a CPU goes
 * offline or online. Tasks queued on a CPU that goes offline are the kernel's to move, and it
 * reroutes what is sent to an offline CPU's local queue (a pin, a pick racing with this), so the
 * only state to keep right is preemptible_cpus: an offline CPU is recorded as running BURST, which
 * takes it out of the mask, and a CPU coming online is idle and may be preempted until its first
 * task runs. The kernel's idle pick follows the change in the topology by itself.
 */
void BPF_STRUCT_OPS(agent_cpu_online, s32 cpu)
{
	set_cpu_class(cpu, AGENT_CLASS_NORMAL);
}

void BPF_STRUCT_OPS(agent_cpu_offline, s32 cpu)
{
	set_cpu_class(cpu, AGENT_CLASS_BURST);
}

void BPF_STRUCT_OPS(agent_exit, struct scx_exit_info *ei)
{
	__u32 zero = 0;
	struct agent_exit_info *out = bpf_map_lookup_elem(&exit_info, &zero);

	if (!out)
		return;
	out->kind = ei->kind;
	/* exit_cpu appeared after 6.19: CO-RE drops this read on kernels without it. */
	out->exit_cpu = bpf_core_field_exists(ei->exit_cpu) ? ei->exit_cpu : -1;
	out->exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(out->reason, sizeof(out->reason), ei->reason);
	bpf_probe_read_kernel_str(out->msg, sizeof(out->msg), ei->msg);
}

/*
 * Self-steps: prctl(AGENT_PRCTL_STEP, op, window_ms) from a task whose hint grants them (see
 * intf.h). This runs on the kernel's prctl security hook as the calling task, before any LSM, and
 * its non-zero return value is prctl's; any other option gets 0, which lets the call go on as
 * if this program were not there. It touches only the caller's own state (and, for a process
 * step, its own group leader's), so a task can do nothing through it that agentschedd's grant
 * does not allow: the grant's flag and window cap are read from the daemon-written `hints`, and
 * a BURST step opened this way is bounded by the same step budget and credit as any other.
 */
SEC("fmod_ret/security_task_prctl")
int BPF_PROG(agent_self_step, int option, unsigned long op, unsigned long window_ms,
	     unsigned long arg4, unsigned long arg5, int ret)
{
	struct task_struct *p, *leader;
	struct agent_hint *hint;
	struct task_ctx *tctx;
	__u64 now, cap_ms;

	if (option != AGENT_PRCTL_STEP || ret)
		return ret;
	p = bpf_get_current_task_btf();
	leader = p->group_leader;
	hint = bpf_task_storage_get(&hints, p, NULL, 0);
	if (op == AGENT_STEP_OPEN_PROCESS || op == AGENT_STEP_CLOSE_PROCESS) {
		/* The process's grant is its leader's hint, and the state lives with the leader. */
		if (leader != p)
			hint = bpf_task_storage_get(&hints, leader, NULL, 0);
		p = leader;
	} else if (op != AGENT_STEP_OPEN && op != AGENT_STEP_CLOSE) {
		return -EINVAL;
	} else if (!hint && leader != p) {
		hint = bpf_task_storage_get(&hints, leader, NULL, 0);	/* the process's grant covers its threads */
	}
	if (!(tctx = lookup_ctx(p)))
		return -EPERM;
	/* Closing one's own window is always allowed: it can only lower the caller's class. */
	if (op == AGENT_STEP_CLOSE || op == AGENT_STEP_CLOSE_PROCESS) {
		if (op == AGENT_STEP_CLOSE)
			tctx->self_step_end = 0;
		else
			tctx->proc_step_end = 0;
		stat_inc(AGENT_STAT_SELF_STEP);
		return AGENT_STEP_DONE;
	}
	if (!hint || !(hint->flags & AGENT_HINT_F_SELF_STEP)) {
		stat_inc(AGENT_STAT_SELF_STEP_DENIED);
		return -EPERM;
	}
	now = bpf_ktime_get_ns();
	cap_ms = hint->self_window_ms;
	if (!window_ms || window_ms > cap_ms)
		window_ms = cap_ms;
	if (op == AGENT_STEP_OPEN) {
		tctx->self_step_end = now + window_ms * NSEC_PER_MSEC;
		tctx->self_step_seq = hint->grant_seq;
	} else {
		tctx->proc_step_end = now + window_ms * NSEC_PER_MSEC;
		tctx->proc_step_seq = hint->grant_seq;
	}
	stat_inc(AGENT_STAT_SELF_STEP);
	return AGENT_STEP_DONE;
}

SEC(".struct_ops.link")
struct sched_ext_ops agent_class_ops = {
	.select_cpu	= (void *)agent_select_cpu,
	.enqueue	= (void *)agent_enqueue,
	.dispatch	= (void *)agent_dispatch,
	.tick		= (void *)agent_tick,
	.runnable	= (void *)agent_runnable,
	.running	= (void *)agent_running,
	.stopping	= (void *)agent_stopping,
	.quiescent	= (void *)agent_quiescent,
	.disable	= (void *)agent_disable,
	.init_task	= (void *)agent_init_task,
	.cpu_online	= (void *)agent_cpu_online,
	.cpu_offline	= (void *)agent_cpu_offline,
	.init		= (void *)agent_init,
	.exit		= (void *)agent_exit,
	.name		= "agent_class",
};
