/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Looks like agent_class to the daemon (same tunables, same struct_ops map name) but its enqueue
 * dereferences a map value without a NULL check, so the kernel's verifier rejects it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

const volatile __u64 slice_ns = 3000000;
const volatile __u32 batch_slice_mult = 4;
const volatile __u64 step_budget_ns, credit_period_ns, starve_ns, antimig_ns;
const volatile __u32 credit_share_pct, nr_cpus;
const volatile __u8 trace_steps;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AGENT_MAX_CPUS);
	__type(key, __u32);
	__type(value, __u32);
} cpu_llc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("struct_ops/reject_enqueue")
void BPF_PROG(reject_enqueue, struct task_struct *p, u64 enq_flags)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&counts, &zero);

	(*n)++;
	scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice_ns, enq_flags);
}

SEC(".struct_ops.link")
struct sched_ext_ops agent_class_ops = {
	.enqueue	= (void *)reject_enqueue,
	.name		= "verifier_reject",
};
