/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maps agent_class shares with user space, declared as bpf/agent_class.bpf.c declares them,
 * in an object that loads without sched_ext, plus an iterator to stand in for the struct_ops
 * link. The host tests pin these the way AgentClassScheduler.Pin does and Adopt() them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

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
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct agent_latency);
} latency SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct agent_exit_info);
} exit_info SEC(".maps");

SEC("iter/task")
int stand_in(struct bpf_iter__task *ctx)
{
	return 0;
}
