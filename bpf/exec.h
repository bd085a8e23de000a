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
#include "objects.h"

#define BA_AT_PHDR 3
#define BA_AT_PHNUM 5
#define BA_AT_BASE 7
#define BA_AUXV_PAIRS 24	/* saved_auxv holds AT_VECTOR_SIZE words; the entries sought come first */
#define BA_PT_INTERP 3
#define BA_PT_PHDR 6
#define BA_PHDRS_MAX 16

/* PT_INTERP's text, through the new image's program headers (AT_PHDR): "" when not readable */
static __always_inline void loader_name(struct ba_exec *x, __u64 phdr, __u64 phnum)
{
	struct { __u32 type; __u32 flags; __u64 offset, vaddr, paddr, filesz, memsz, align; } ph;
	__u64 bias = 0, interp = 0;

	x->loader_name[0] = 0;
	for (int i = 0; i < BA_PHDRS_MAX; i++) {
		if (i >= phnum || bpf_probe_read_user(&ph, sizeof(ph), (void *)(phdr + i * sizeof(ph))))
			break;
		if (ph.type == BA_PT_PHDR)
			bias = phdr - ph.vaddr;
		else if (ph.type == BA_PT_INTERP)
			interp = ph.vaddr;
	}
	if (interp)
		bpf_probe_read_user_str(x->loader_name, BA_OBJ_NAME_MAX, (void *)(bias + interp));
}

/* the files kernel audit names for an exec: the one run, a script's interpreter, the loader's name */
static __always_inline void exec_files(struct ba_exec *x, void *bprm, void *filename)
{
	void *file = kptr(bprm, BA_OFF_BPRM_FILE);
	char *interp = kptr(bprm, BA_OFF_BPRM_INTERP);
	void *task = current_task();
	void *mm = btf_ptr(task, BA_OFF_TASK_MM);
	__u64 auxv[2 * BA_AUXV_PAIRS], base = 0, phdr = 0, phnum = 0;

	__builtin_memset(&x->file, 0, sizeof(x->file));
	__builtin_memset(&x->loader, 0, sizeof(x->loader));
	obj_inode(&x->file, dentry_inode(file_dentry(file)));
	x->interp_len = 0;
	if (interp && (void *)interp != filename) {
		long n = bpf_probe_read_kernel_str(x->interp, BA_OBJ_NAME_MAX, interp);

		x->interp_len = n > 1 ? n - 1 : 0;
	}
	if (!mm || bpf_probe_read_kernel(auxv, sizeof(auxv), mm + BA_OFF_MM_SAVED_AUXV))
		return;
	for (int i = 0; i < BA_AUXV_PAIRS; i++) {
		if (auxv[2 * i] == BA_AT_BASE)
			base = auxv[2 * i + 1];
		else if (auxv[2 * i] == BA_AT_PHDR)
			phdr = auxv[2 * i + 1];
		else if (auxv[2 * i] == BA_AT_PHNUM)
			phnum = auxv[2 * i + 1];
	}
	if (!base)
		return;	/* static: no loader */
	/* its name; its inode would take a walk of the new mm's maple tree (AT_BASE's VMA): not yet */
	loader_name(x, phdr, phnum);
	x->loader.flags = BA_OBJ_KNAME;
}

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
	exec_files(x, (void *)bprm, (void *)name);
#ifdef BA_HOOKS
	/* file capabilities count only if they were the final file's (get_vfs_caps_from_disk, objects.h) */
	if (st->fcap_dentry != (__u64)file_dentry(kptr((void *)bprm, BA_OFF_BPRM_FILE))) {
		st->caps.has_fcap = 0;
		st->caps.fp = st->caps.fi = 0;
		st->caps.fmagic = st->caps.frootid = 0;
	}
#endif
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
