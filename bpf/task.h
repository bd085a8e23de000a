/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads the identity of the current task. Every offset comes from the running
 * kernel's BTF as a -DBA_OFF_* flag (tracer/btf.py): the header tree bcc
 * compiles against may be for another kernel, so no struct layout from it is used.
 */
#ifndef BPFAUDIT_TASK_H
#define BPFAUDIT_TASK_H

#include "record.h"
#include "rules.h"
#include "eval_ctx.h"

#define BA_TS_COMPAT 0x0002	/* x86 thread_info.status: 32-bit syscall active */

static __always_inline __u32 read_u32(void *base, __u32 off)
{
	__u32 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), base + off);
	return v;
}

static __always_inline void *read_ptr(void *base, __u32 off)
{
	void *p = NULL;

	bpf_probe_read_kernel(&p, sizeof(p), base + off);
	return p;
}

/* the same, read directly through the BTF-typed current task: no probe read */
static __always_inline __u32 current_abi(void)
{
	void *t = (void *)bpf_get_current_task_btf();
	__u32 status;

	/* the offset is BTF's: the load goes to the verifier as task_struct + off */
	status = *(volatile __u32 *)(t + BA_OFF_TASK_TI_STATUS);
	return status & BA_TS_COMPAT ? BA_ABI_COMPAT : BA_ABI_NATIVE;
}

static __always_inline __u32 task_abi(void *task)
{
	return read_u32(task, BA_OFF_TASK_TI_STATUS) & BA_TS_COMPAT ? BA_ABI_COMPAT : BA_ABI_NATIVE;
}

#define BA_SLOTS_CRED ((1u << BA_SLOT_UID) | (1u << BA_SLOT_GID) | (1u << BA_SLOT_SUID) | \
		       (1u << BA_SLOT_SGID) | (1u << BA_SLOT_EUID) | (1u << BA_SLOT_EGID) | \
		       (1u << BA_SLOT_FSUID) | (1u << BA_SLOT_FSGID))
#define BA_SLOTS_ALL 0xffffffffu

/*
 * Reads the identity values the rules compare; `need` (BA_SLOT_* bits) says
 * which: at sys_enter only those of the syscall's candidate rules, so that a
 * call rejected on its auid costs one read, not seven. Unread values are 0.
 */
static __always_inline void read_ids(void *task, __u32 abi, struct ba_ids *ids, __u32 need)
{
	ids->pid = bpf_get_current_pid_tgid() >> 32;
	ids->arch = abi == BA_ABI_COMPAT ? BA_AUDIT_ARCH_I386 : BA_AUDIT_ARCH_X86_64;
	ids->ppid = 0;
	if (need & (1u << BA_SLOT_PPID)) {
		void *parent = read_ptr(task, BA_OFF_TASK_REAL_PARENT);

		if (parent)
			ids->ppid = read_u32(parent, BA_OFF_TASK_TGID);
	}
	ids->auid = need & ((1u << BA_SLOT_AUID) | (1u << BA_SLOT_LOGINUID_SET)) ?
		read_u32(task, BA_OFF_TASK_LOGINUID) : 0;
	ids->ses = need & (1u << BA_SLOT_SES) ? read_u32(task, BA_OFF_TASK_SESSIONID) : 0;
	ids->pers = need & (1u << BA_SLOT_PERS) ? read_u32(task, BA_OFF_TASK_PERSONALITY) : 0;
	if (!(need & BA_SLOTS_CRED)) {
		__builtin_memset(ids->cred, 0, sizeof(ids->cred));
		return;
	}
	void *cred = read_ptr(task, BA_OFF_TASK_CRED);
#ifdef BA_CRED_CONTIGUOUS
	bpf_probe_read_kernel(ids->cred, sizeof(ids->cred), cred + BA_OFF_CRED_UID);
#else
	ids->cred[0] = read_u32(cred, BA_OFF_CRED_UID);
	ids->cred[1] = read_u32(cred, BA_OFF_CRED_GID);
	ids->cred[2] = read_u32(cred, BA_OFF_CRED_SUID);
	ids->cred[3] = read_u32(cred, BA_OFF_CRED_SGID);
	ids->cred[4] = read_u32(cred, BA_OFF_CRED_EUID);
	ids->cred[5] = read_u32(cred, BA_OFF_CRED_EGID);
	ids->cred[6] = read_u32(cred, BA_OFF_CRED_FSUID);
	ids->cred[7] = read_u32(cred, BA_OFF_CRED_FSGID);
#endif
}

/* Copies the identity into the record, with what only records need. */
static __always_inline void fill_identity(void *task, struct ba_ids *ids, struct ba_record *rec)
{
	void *signal = read_ptr(task, BA_OFF_TASK_SIGNAL);
	void *tty = signal ? read_ptr(signal, BA_OFF_SIGNAL_TTY) : NULL;

	rec->pid = ids->pid;
	rec->tid = (__u32)bpf_get_current_pid_tgid();
	rec->ppid = ids->ppid;
	rec->auid = ids->auid;
	rec->ses = ids->ses;
	rec->uid = ids->cred[0];
	rec->gid = ids->cred[1];
	rec->suid = ids->cred[2];
	rec->sgid = ids->cred[3];
	rec->euid = ids->cred[4];
	rec->egid = ids->cred[5];
	rec->fsuid = ids->cred[6];
	rec->fsgid = ids->cred[7];
	rec->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(rec->comm, sizeof(rec->comm));
	rec->tty[0] = 0;
	if (tty)
		bpf_probe_read_kernel_str(rec->tty, sizeof(rec->tty), tty + BA_OFF_TTY_NAME);
}

#endif /* BPFAUDIT_TASK_H */
