/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.bpf.h — the sched_ext calls and flags that differ between kernels, behind wrappers that
 * read the same everywhere. agent_class is compiled once, against the 7.3 vmlinux.h, and each
 * wrapper picks at load time what the running kernel has, newest form first:
 *
 *   dsq_insert          scx_bpf_dsq_insert___v2 (6.19+), else scx_bpf_dsq_insert (6.13+),
 *                       else scx_bpf_dispatch (6.12)
 *   dsq_insert_vtime    __scx_bpf_dsq_insert_vtime (6.19+), else scx_bpf_dsq_insert_vtime (6.13+),
 *                       else scx_bpf_dispatch_vtime (6.12)
 *   dsq_move_to_local   scx_bpf_dsq_move_to_local___v2 (after 6.19; 7.3 has it), else
 *                       scx_bpf_dsq_move_to_local (6.13+), else scx_bpf_consume (6.12)
 *   task_set_dsq_vtime  scx_bpf_task_set_dsq_vtime (6.19+), else a direct write of p->scx.dsq_vtime
 *   task_set_slice      scx_bpf_task_set_slice (6.19+), else a direct write of p->scx.slice
 *
 * So 7.3 takes every first branch; 6.19 the first ones but scx_bpf_dsq_move_to_local; 6.13-6.18
 * the 6.13 names and the direct write; 6.12 the last branches. The newer forms come first because
 * the kernel keeps the older ones only for a while: 6.13 renamed the 6.12 names, 6.16 has only
 * scx_bpf_dispatch[_vtime] of them left and 6.18 none; 7.3 still has the 6.13 names, marked for
 * removal. Checked in the BTF of Debian's 6.16.3, 6.18.15, 6.19.14 and 7.3.4 kernels, and in
 * the programs as loaded on 6.16.3, 6.19.14 and 7.3.4; the 6.12 names only in the 6.12 sources
 * (no Debian 6.12 kernel has sched_ext, so the 6.12 branches have never run).
 *
 * How the choice is made: every kernel name is an extern __weak __ksym. libbpf binds it if the
 * kernel has a kfunc of that name and a compatible prototype, and otherwise leaves it 0, so
 * bpf_ksym_exists() is a constant at load time and the verifier drops the branches the kernel
 * cannot run without checking them. libbpf binds an extern by its name up to the last "___"
 * (a flavor), which lets scx_bpf_dispatch___compat name the kernel's scx_bpf_dispatch without
 * clashing with any vmlinux.h declaration. A kernel name that itself ends in ___v2 therefore needs
 * a flavor on top (scx_bpf_dsq_insert___v2___compat): called bare, libbpf would strip the ___v2,
 * find the void scx_bpf_dsq_insert, reject the bool prototype and leave it unbound.
 * The 6.13+ names are used as vmlinux.h declares them (bpftool emits every kfunc __weak __ksym).
 */
#ifndef AGENTSCHED_COMPAT_BPF_H
#define AGENTSCHED_COMPAT_BPF_H

/* 6.12 */
void scx_bpf_dispatch___compat(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch_vtime___compat(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				     u64 enq_flags) __ksym __weak;
bool scx_bpf_consume___compat(u64 dsq_id) __ksym __weak;
bool scx_bpf_dispatch_from_dsq___compat(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p, u64 dsq_id,
					 u64 enq_flags) __ksym __weak;
/* kernel names that end in ___v2 (6.19+; move_to_local after 6.19) */
bool scx_bpf_dsq_insert___v2___compat(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_to_local___v2___compat(u64 dsq_id, u64 enq_flags) __ksym __weak;

/*
 * The running kernel's value of a sched_ext flag (CO-RE), where vmlinux.h's could be wrong:
 * SCX_ENQ_HEAD is 1 << 4 up to 6.18 and 1 << 16 since 6.19. The flags used without this
 * (SCX_DSQ_LOCAL[_ON], SCX_KICK_*, SCX_PICK_IDLE_CORE) have kept their values since 6.12.
 */
#define scx_flag(type, name) bpf_core_enum_value(enum type, name)

/* Queues p at the tail of a FIFO DSQ (or at its head with SCX_ENQ_HEAD). */
static __always_inline void dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert___v2___compat))
		scx_bpf_dsq_insert___v2___compat(p, dsq_id, slice, enq_flags);
	else if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch___compat(p, dsq_id, slice, enq_flags);
}

/* Queues p in a user DSQ ordered by vtime. */
static __always_inline void dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
					     u64 enq_flags)
{
	if (bpf_ksym_exists(__scx_bpf_dsq_insert_vtime)) {
		struct scx_bpf_dsq_insert_vtime_args args = {
			.dsq_id = dsq_id,
			.slice = slice,
			.vtime = vtime,
			.enq_flags = enq_flags,
		};

		__scx_bpf_dsq_insert_vtime(p, &args);
	} else if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime)) {
		scx_bpf_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags);
	} else {
		scx_bpf_dispatch_vtime___compat(p, dsq_id, slice, vtime, enq_flags);
	}
}

/* Moves the first task of a user DSQ to this CPU's local DSQ; false if the DSQ was empty. */
static __always_inline bool dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___v2___compat))
		return scx_bpf_dsq_move_to_local___v2___compat(dsq_id, 0);
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume___compat(dsq_id);
}

/* The iterator of the innermost bpf_for_each loop, for the kfuncs that act on the task it is at. */
#ifndef BPF_FOR_EACH_ITER
#define BPF_FOR_EACH_ITER (&___it)
#endif

/*
 * Moves @p, the task a bpf_for_each(scx_dsq) loop is at, to @dsq_id (from ops.dispatch: the local
 * DSQ is this CPU's); false if @p left the DSQ since the loop reached it.
 */
static __always_inline bool dsq_move_task(struct bpf_iter_scx_dsq *it, struct task_struct *p, u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move))
		return scx_bpf_dsq_move(it, p, dsq_id, 0);
	return scx_bpf_dispatch_from_dsq___compat(it, p, dsq_id, 0);
}

/*
 * Sets the vtime p is ordered by the next time it is queued. Before 6.19 the verifier lets
 * sched_ext programs write p->scx.dsq_vtime directly; 6.19 added the kfunc and deprecated the
 * write (the verifier never sees the write there: that branch is dropped).
 */
static __always_inline void task_set_dsq_vtime(struct task_struct *p, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_task_set_dsq_vtime))
		scx_bpf_task_set_dsq_vtime(p, vtime);
	else
		p->scx.dsq_vtime = vtime;
}

/* Sets what is left of p's slice; the same story as task_set_dsq_vtime (kfunc since 6.19). */
static __always_inline void task_set_slice(struct task_struct *p, u64 slice)
{
	if (bpf_ksym_exists(scx_bpf_task_set_slice))
		scx_bpf_task_set_slice(p, slice);
	else
		p->scx.slice = slice;
}

#endif /* AGENTSCHED_COMPAT_BPF_H */
