/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maps agent_class shares with user space (bpf/maps.bpf.h, the same definitions the scheduler
 * includes), in an object that loads without sched_ext, plus an iterator to stand in for the struct_ops
 * link. The host tests pin these the way AgentClassScheduler.Pin does and Adopt() them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

#include "maps.bpf.h"

SEC("iter/task")
int stand_in(struct bpf_iter__task *ctx)
{
	return 0;
}
