/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An exec's own view of itself, for the exec's sys_exit: by then the
 * caller's memory (the name it passed) is gone. sched_process_exec fires
 * once the new image is loaded, which is also when kernel audit records
 * the exec (audit_bprm(), just before the same tracepoint): bprm->filename
 * is the kernel's copy of the name, bprm->argc the argument count of
 * kernel audit's EXECVE record.
 */
#ifndef BPFAUDIT_EXEC_H
#define BPFAUDIT_EXEC_H

#include "maps.h"
#include "task.h"

/* ctx->args: (struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm) */
RAW_TRACEPOINT_PROBE(sched_process_exec)
{
	__u32 zero = 0, tid = (__u32)bpf_get_current_pid_tgid();
	struct ba_stash *st = stash.task_storage_get(current_task(), 0, 0);
	struct ba_exec *x;
	__u64 bprm = ctx->args[2], name = 0;
	long n;

	/* only an exec that sys_enter stashed (a candidate of some rule) */
	if (!st || !(st->rec.flags & BA_REC_PENDING))
		return 0;
	x = execscratch.lookup(&zero);
	if (!x)
		return 0;
	x->argc = 0;
	bpf_probe_read_kernel(&x->argc, sizeof(x->argc), (void *)bprm + BA_OFF_BPRM_ARGC);
	bpf_probe_read_kernel(&name, sizeof(name), (void *)bprm + BA_OFF_BPRM_FILENAME);
	n = bpf_probe_read_kernel_str(x->name, BA_NAME_MAX, (void *)name);
	x->name_len = n > 0 ? n : 0;
	execs.update(&tid, x);
	return 0;
}

/* the exec's entry at its sys_exit (successful execs only: the tracepoint fired), and forget it */
static __always_inline struct ba_exec *exec_entry(struct ba_syscall *sc, __s64 ret, __u64 pid_tgid)
{
	__u32 tid = (__u32)pid_tgid;

	if (!(sc->flags & BA_SC_EXEC) || ret != 0)
		return NULL;
	return execs.lookup(&tid);
}

#endif /* BPFAUDIT_EXEC_H */
