/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads the identity of the current task. Every offset comes from the running
 * kernel's BTF as a -DBA_OFF_* flag (tracer/capture/btf.py): the header tree bcc
 * compiles against may be for another kernel, so no struct layout from it is used.
 */
#ifndef BPFAUDIT_TASK_H
#define BPFAUDIT_TASK_H

#include "record.h"
#include "rules.h"
#include "eval_ctx.h"

#define BA_TS_COMPAT 0x0002	/* x86 thread_info.status: 32-bit syscall active */

/*
 * Direct loads through a BTF-typed pointer (bpf_get_current_task_btf() and
 * the pointers loaded from it): the verifier checks base + off against the
 * running kernel's own type and turns the load into a faulting-safe one, no
 * helper call. The offsets are BTF's too, so both sides agree.
 */
static __always_inline __u32 btf_u32(void *base, __u32 off)
{
	return *(volatile __u32 *)(base + off);
}

static __always_inline __u16 btf_u16(void *base, __u32 off)
{
	return *(volatile __u16 *)(base + off);
}

static __always_inline __u64 btf_u64(void *base, __u32 off)
{
	return *(volatile __u64 *)(base + off);
}

static __always_inline void *btf_ptr(void *base, __u32 off)
{
	return *(void *volatile *)(base + off);
}

static __always_inline void *current_task(void)
{
	return (void *)bpf_get_current_task_btf();
}

static __always_inline __u32 task_abi(void *task)
{
	return btf_u32(task, BA_OFF_TASK_TI_STATUS) & BA_TS_COMPAT ? BA_ABI_COMPAT : BA_ABI_NATIVE;
}

#define BA_SLOTS_CRED ((1u << BA_SLOT_UID) | (1u << BA_SLOT_GID) | (1u << BA_SLOT_SUID) | \
		       (1u << BA_SLOT_SGID) | (1u << BA_SLOT_EUID) | (1u << BA_SLOT_EGID) | \
		       (1u << BA_SLOT_FSUID) | (1u << BA_SLOT_FSGID))
#define BA_SLOTS_ALL 0xffffffffu

/*
 * Reads the identity values the rules compare (`pid_tgid`: the program's one
 * bpf_get_current_pid_tgid()); `need` (BA_SLOT_* bits) says
 * which: at sys_enter only those of the syscall's candidate rules, so that a
 * call rejected on its auid costs one read, not seven. Unread values are 0.
 */
static __always_inline void read_ids(void *task, __u32 abi, struct ba_ids *ids, __u32 need, __u64 pid_tgid)
{
	ids->pid = pid_tgid >> 32;
	ids->arch = abi == BA_ABI_COMPAT ? BA_AUDIT_ARCH_I386 : BA_AUDIT_ARCH_X86_64;
	ids->ppid = 0;
	if (need & (1u << BA_SLOT_PPID)) {
		void *parent = btf_ptr(task, BA_OFF_TASK_REAL_PARENT);

		if (parent)
			ids->ppid = btf_u32(parent, BA_OFF_TASK_TGID);
	}
	ids->auid = need & ((1u << BA_SLOT_AUID) | (1u << BA_SLOT_LOGINUID_SET)) ?
		btf_u32(task, BA_OFF_TASK_LOGINUID) : 0;
	ids->ses = need & (1u << BA_SLOT_SES) ? btf_u32(task, BA_OFF_TASK_SESSIONID) : 0;
	ids->pers = need & (1u << BA_SLOT_PERS) ? btf_u32(task, BA_OFF_TASK_PERSONALITY) : 0;
	if (!(need & BA_SLOTS_CRED)) {
		__builtin_memset(ids->cred, 0, sizeof(ids->cred));
		return;
	}
	void *cred = btf_ptr(task, BA_OFF_TASK_CRED);

	if (!cred) {
		__builtin_memset(ids->cred, 0, sizeof(ids->cred));
		return;
	}
	ids->cred[0] = btf_u32(cred, BA_OFF_CRED_UID);
	ids->cred[1] = btf_u32(cred, BA_OFF_CRED_GID);
	ids->cred[2] = btf_u32(cred, BA_OFF_CRED_SUID);
	ids->cred[3] = btf_u32(cred, BA_OFF_CRED_SGID);
	ids->cred[4] = btf_u32(cred, BA_OFF_CRED_EUID);
	ids->cred[5] = btf_u32(cred, BA_OFF_CRED_EGID);
	ids->cred[6] = btf_u32(cred, BA_OFF_CRED_FSUID);
	ids->cred[7] = btf_u32(cred, BA_OFF_CRED_FSGID);
}

/* Copies the identity into the record, with what only records need. */
static __always_inline void fill_identity(void *task, struct ba_ids *ids, struct ba_record *rec, __u64 pid_tgid)
{
	void *signal = btf_ptr(task, BA_OFF_TASK_SIGNAL);
	void *tty = signal ? btf_ptr(signal, BA_OFF_SIGNAL_TTY) : NULL;

	rec->pid = ids->pid;
	rec->tid = (__u32)pid_tgid;
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
	rec->per = btf_u32(task, BA_OFF_TASK_PERSONALITY);
	/*
	 * Names by two 8-byte BTF loads each, not bpf_get_current_comm() and
	 * bpf_probe_read_kernel_str() (~35 ns per helper call on our VMs): task->comm
	 * is NUL-padded (__set_task_comm) and a tty_struct zero-allocated, so the
	 * bytes up to the NUL are what the helpers copy. A tty name is cut at 15
	 * bytes, as the helper's 16-byte buffer cuts it.
	 */
	*(__u64 *)&rec->comm[0] = btf_u64(task, BA_OFF_TASK_COMM);
	*(__u64 *)&rec->comm[8] = btf_u64(task, BA_OFF_TASK_COMM + 8);
	*(__u64 *)&rec->tty[0] = 0;
	*(__u64 *)&rec->tty[8] = 0;
	if (tty) {
		*(__u64 *)&rec->tty[0] = btf_u64(tty, BA_OFF_TTY_NAME);
		*(__u64 *)&rec->tty[8] = btf_u64(tty, BA_OFF_TTY_NAME + 8);
		rec->tty[BA_TTY_LEN - 1] = 0;
	}
}

#endif /* BPFAUDIT_TASK_H */
