/* SPDX-License-Identifier: GPL-2.0 */
/*
 * agent_class — a sched_ext scheduler for hosts that run AI agents.
 *
 * An agent is a chain of short, dependent steps: each one needs a few milliseconds of CPU and
 * gates everything after it. This scheduler keeps three queues and always drains them in order:
 *
 *   BURST   latency-critical steps (an agent's orchestration thread, a tool it just forked)
 *   NORMAL  everything without a hint
 *   BATCH   declared throughput work (inference workers, compiles), with a longer slice
 *
 * A task's class comes from a hint that agentschedd writes into the `hints` task-storage map,
 * keyed by the task (through a pidfd), so a hint dies with its task and can never apply to a
 * later process that reuses the pid. A hint on a thread-group leader covers the whole process.
 *
 * This is the first slice of the policy: strict queue order and slices. Step windows, burst
 * budgets, wakeup placement, anti-migration and the starvation guard come next; until then a
 * BURST task can starve the other queues, so only mark tasks that block often.
 *
 * Tunables (.rodata, set by agentschedd between open and load):
 *   slice_ns              time slice of BURST and NORMAL tasks          (default 3 ms)
 *   batch_slice_mult      BATCH slice = slice_ns * batch_slice_mult     (default 4)
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

const volatile __u64 slice_ns = 3000000;
const volatile __u32 batch_slice_mult = 4;
const volatile __u32 abi_version = AGENT_ABI_VERSION;

/*
 * Never read: it makes clang emit every enum of intf.h into the object's BTF, where the test
 * of the C# twin (AbiTests) finds them. The structs get there through the maps below.
 */
const volatile struct {
	enum agent_abi abi;
	enum agent_class_id class_id;
	enum agent_dsq_id dsq_id;
	enum agent_stat_idx stat_idx;
	enum agent_exit_sizes exit_sizes;
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

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct agent_hint);
} hints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[AGENT_NR_STATS]);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct agent_exit_info);
} exit_info SEC(".maps");

static void stat_inc(enum agent_stat_idx idx)
{
	__u32 zero = 0;
	__u64 *cnt = bpf_map_lookup_elem(&stats, &zero);

	if (cnt && idx < AGENT_NR_STATS)
		cnt[idx]++;
}

static __u32 task_class(struct task_struct *p)
{
	struct agent_hint *hint;

	hint = bpf_task_storage_get(&hints, p, NULL, 0);
	if (!hint && p->group_leader != p)
		hint = bpf_task_storage_get(&hints, p->group_leader, NULL, 0);
	if (!hint || hint->class_id >= AGENT_NR_CLASSES)
		return AGENT_CLASS_NORMAL;
	return hint->class_id;
}

static __u64 class_slice(__u32 class_id)
{
	return class_id == AGENT_CLASS_BATCH ? slice_ns * batch_slice_mult : slice_ns;
}

s32 BPF_STRUCT_OPS(agent_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		/* Nothing else wants that CPU: skip the queues. */
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, class_slice(task_class(p)), 0);
		stat_inc(AGENT_STAT_DIRECT_IDLE);
	}
	return cpu;
}

void BPF_STRUCT_OPS(agent_enqueue, struct task_struct *p, u64 enq_flags)
{
	__u32 class_id = task_class(p);
	__u64 dsq_id;

	switch (class_id) {
	case AGENT_CLASS_BURST:
		dsq_id = AGENT_DSQ_BURST;
		stat_inc(AGENT_STAT_DISPATCH_BURST);
		break;
	case AGENT_CLASS_BATCH:
		dsq_id = AGENT_DSQ_BATCH;
		stat_inc(AGENT_STAT_DISPATCH_BATCH);
		break;
	default:
		dsq_id = AGENT_DSQ_NORMAL;
		stat_inc(AGENT_STAT_DISPATCH_NORMAL);
		break;
	}
	scx_bpf_dsq_insert(p, dsq_id, class_slice(class_id), enq_flags);
}

void BPF_STRUCT_OPS(agent_dispatch, s32 cpu, struct task_struct *prev)
{
	if (scx_bpf_dsq_move_to_local(AGENT_DSQ_BURST))
		return;
	if (scx_bpf_dsq_move_to_local(AGENT_DSQ_NORMAL))
		return;
	scx_bpf_dsq_move_to_local(AGENT_DSQ_BATCH);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(agent_init)
{
	s32 ret;

	if ((ret = scx_bpf_create_dsq(AGENT_DSQ_BURST, -1)) ||
	    (ret = scx_bpf_create_dsq(AGENT_DSQ_NORMAL, -1)) ||
	    (ret = scx_bpf_create_dsq(AGENT_DSQ_BATCH, -1))) {
		agent_error("creating the dispatch queues failed: %d", ret);
		return ret;
	}
	return 0;
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

SEC(".struct_ops.link")
struct sched_ext_ops agent_class_ops = {
	.select_cpu	= (void *)agent_select_cpu,
	.enqueue	= (void *)agent_enqueue,
	.dispatch	= (void *)agent_dispatch,
	.init		= (void *)agent_init,
	.exit		= (void *)agent_exit,
	.name		= "agent_class",
};
