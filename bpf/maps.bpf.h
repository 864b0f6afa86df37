/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maps.bpf.h — the maps agent_class shares with user space (agentschedd pins them, writes hints,
 * reads counters, steps and the exit info), defined once: bpf/agent_class.bpf.c includes it, and so does
 * the host tests' stand-in object (tests/AgentSched.Interop.Tests/bpf/agent_maps_twin.bpf.c), so
 * the pin and adopt tests exercise exactly these definitions. Value layouts come from intf.h.
 */
#ifndef AGENTSCHED_MAPS_BPF_H
#define AGENTSCHED_MAPS_BPF_H

/* Per-task hints, keyed by a pidfd from user space; a hint dies with its task. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct agent_hint);
} hints SEC(".maps");

/* Per-CPU counters, one __u64 per enum agent_stat_idx. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[AGENT_NR_STATS]);
} stats SEC(".maps");

/* Per-CPU wait histograms per class. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct agent_latency);
} latency SEC(".maps");

/* Per-CPU step histograms per class (marked tasks only). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct agent_step_stats);
} step_stats SEC(".maps");

/* Recent steps of each marked task, created at its first step; keyed by a (thread) pidfd from user space. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct agent_step_ring);
} step_rings SEC(".maps");

/* Why the scheduler last left the kernel, written by ops.exit. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct agent_exit_info);
} exit_info SEC(".maps");

#endif /* AGENTSCHED_MAPS_BPF_H */
