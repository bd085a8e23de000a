/* SPDX-License-Identifier: GPL-2.0 */
/* Every map of bpfaudit's programs, in one place. */
#ifndef BPFAUDIT_MAPS_H
#define BPFAUDIT_MAPS_H

#include "record.h"
#include "rules.h"
#include "eval_ctx.h"
#include "event.h"

/* settings written by user space before attaching */
BPF_ARRAY(config, struct ba_config, 1);
/* compiled exit-list rules, in order */
BPF_ARRAY(rules, struct ba_rule, BA_MAX_RULES);
/* (abi, syscall nr) -> candidate rules and pathname arguments */
BPF_ARRAY(syscalls, struct ba_syscall, BA_NR_ABIS * BA_NR_SYSCALLS);
/* per-CPU traffic and loss counters, BA_CNT_* */
BPF_PERCPU_ARRAY(counters, __u64, BA_NR_COUNTERS);
/*
 * Threads with a stashed syscall, counted by bucket (inflight_bucket()): sys_exit of any
 * other thread stops at one array read instead of a storage lookup. A
 * collision or a thread killed inside a syscall only makes its bucket pay
 * that lookup; it never hides a stashed call.
 */
#define BA_INFLIGHT_BUCKETS 65536
BPF_ARRAY(inflight, __u32, BA_INFLIGHT_BUCKETS);

/*
 * A thread's bucket, from the pt_regs pointer both raw tracepoints get for
 * free: the saved registers sit at the top of the thread's own kernel stack
 * (16 KiB, 16 KiB-aligned), the same address at sys_enter and sys_exit of a
 * call and distinct between live threads. No helper call, unlike the tid.
 */
static __always_inline __u32 inflight_bucket(void *regs)
{
	return (__u32)((unsigned long)regs >> 14) & (BA_INFLIGHT_BUCKETS - 1);
}
/* sys_enter -> sys_exit: the record, in the thread's own task storage
 * (freed with the thread; BA_REC_PENDING marks a syscall in flight) */
BPF_TASK_STORAGE(stash, struct ba_stash);
/* the event sys_exit assembles, one buffer per CPU (an array indexed by CPU:
 * a per-CPU map's value is capped at 32 KiB); programs do not nest on a CPU */
BPF_ARRAY(evbufs, union ba_evbuf, BA_NR_CPUS);
/* the dentry walk's backwards-built path (dpath.h) */
BPF_PERCPU_ARRAY(pathbuf, struct ba_pathbuf, 1);
/* an exec's name and argc, from sched_process_exec to the exec's sys_exit; LRU:
 * a thread killed between the two leaves an entry that ages out */
BPF_TABLE("lru_hash", __u32, struct ba_exec, execs, 1024);
BPF_PERCPU_ARRAY(execscratch, struct ba_exec, 1);
/* rule evaluation state (filter.h); programs do not nest on a CPU */
BPF_PERCPU_ARRAY(evalctx, struct eval_ctx, 1);
/* sys_exit's later stages, tail-called (bpfaudit.bpf.c; the loader fills it) */
#define BA_STAGE_ITEMS 0
#define BA_STAGE_SUBMIT 1
BPF_PROG_ARRAY(exit_stages, 2);
/* identity of the tracer itself, read on request to verify offsets */
BPF_ARRAY(selfcheck, struct ba_record, 1);
/*
 * records to user space: a perf ring per CPU, or with -DBA_RINGBUF=PAGES one
 * BPF ring buffer of PAGES pages shared by all CPUs (tracer/capture/ringbuf.py)
 */
#ifdef BA_RINGBUF
#ifndef BA_RINGBUF_WAKEUP
#define BA_RINGBUF_WAKEUP 0
#endif
BPF_RINGBUF_OUTPUT(events, BA_RINGBUF);
#else
BPF_PERF_OUTPUT(events);
#endif

static __always_inline void count(__u32 idx)
{
	__u64 *v = counters.lookup(&idx);

	if (v)
		(*v)++;
}

#endif /* BPFAUDIT_MAPS_H */
