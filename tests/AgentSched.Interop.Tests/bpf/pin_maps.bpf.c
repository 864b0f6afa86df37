/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps and a program that load on any BPF-capable kernel (no sched_ext): the host tests pin,
 * reopen and reuse these maps, and pin, reopen and detach the iterator's link.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char _license[] SEC("license") = "GPL";

struct pin_value {
	__u64 count;
	__u32 tag;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct pin_value);
} table SEC(".maps");

/* Reading the pinned iterator link prints counters[0] once: "counters[0]=N". */
SEC("iter/task")
int dump_counter(struct bpf_iter__task *ctx)
{
	__u32 zero = 0;
	__u64 *v;

	if (ctx->meta->seq_num != 0)
		return 0;
	v = bpf_map_lookup_elem(&counters, &zero);
	if (v)
		BPF_SEQ_PRINTF(ctx->meta->seq, "counters[0]=%llu\n", *v);
	return 0;
}
