/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel/user boundary of bpfaudit, defined once: the record the exit
 * program submits, the configuration and rule tables user space writes, and
 * the loss-counter indices. tracer/layout.py parses this file to build its
 * decoder; nothing in Python restates an offset or a constant by hand.
 *
 * Rules for this file: fixed-width types only, explicit padding, every
 * struct followed by a _Static_assert of its size, constants as plain
 * "#define NAME <integer>" lines.
 */
#ifndef BPFAUDIT_RECORD_H
#define BPFAUDIT_RECORD_H

#define BA_SCHEMA_VERSION 1

#define BA_COMM_LEN 16
#define BA_TTY_LEN 16
#define BA_PATH_LEN 256
#define BA_MAX_PATHS 2
#define BA_NARGS 6

/* audit.h values, so records carry the kernel's own arch codes */
#define BA_AUDIT_ARCH_X86_64 3221225534
#define BA_AUDIT_ARCH_I386 1073741827

/* ABIs indexing the syscall tables */
#define BA_ABI_NATIVE 0
#define BA_ABI_COMPAT 1
#define BA_NR_ABIS 2

/* ba_record.flags */
#define BA_REC_USERSPACE_CHECK 1
#define BA_REC_PATH0_TRUNCATED 2
#define BA_REC_PATH1_TRUNCATED 4
#define BA_REC_PATH0_FAULT 8
#define BA_REC_PATH1_FAULT 16
#define BA_REC_DECIDED 32	/* stash only: the rule was decided at sys_enter */
#define BA_REC_PENDING 64	/* stash only: sys_enter stashed, sys_exit not yet run */

/* Indices of the per-CPU loss/traffic counters (map "counters") */
#define BA_CNT_EMITTED 0
#define BA_CNT_SUBMIT_FAILED 1
#define BA_CNT_STASH_FULL 2	/* sys_enter got no task storage for the call: dropped unnumbered */
#define BA_CNT_STASH_MISSING 3
#define BA_CNT_ENTER_CANDIDATES 4
#define BA_CNT_ENTER_STASHED 5
#define BA_NR_COUNTERS 6

/* One syscall, everything kernel audit's SYSCALL and PATH records carry. */
struct ba_record {
	__u64 seq;		/* per-CPU sequence number of emitted records */
	__u64 enter_ns;		/* CLOCK_MONOTONIC at sys_enter */
	__u64 exit_ns;		/* CLOCK_MONOTONIC at sys_exit */
	__s64 exit;		/* return value */
	__u64 args[6];		/* a0..a5 */
	__u32 arch;		/* AUDIT_ARCH_* */
	__u32 syscall;
	__u32 pid;		/* tgid */
	__u32 tid;
	__u32 ppid;
	__u32 auid;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 suid;
	__u32 fsuid;
	__u32 egid;
	__u32 sgid;
	__u32 fsgid;
	__u32 ses;
	__u32 cpu;
	__u16 rule;		/* index of the deciding (or first candidate) rule */
	__u16 flags;		/* BA_REC_* */
	__u16 path_len[2];	/* bytes of each path including the NUL, 0 if none */
	__u8 n_paths;
	__u8 abi;		/* BA_ABI_* */
	__u8 pad[6];
	char comm[16];
	char tty[16];
	char path[512];		/* BA_MAX_PATHS slots of BA_PATH_LEN; one dimension (bcc's
			 * table decoder drops inner ones); last: short records omit it */
};
_Static_assert(sizeof(struct ba_record) == 704, "ba_record size");
#define BA_RECORD_HDR_SIZE 192

/* Settings user space writes into the one-entry array map "config". */
struct ba_config {
	__u32 self_tgid;	/* the tracer itself: never traced */
	__u32 target_tgid;	/* -p PID, 0 = any */
	__u32 failed_only;	/* -x: only syscalls that returned an error */
	__u32 nrules;
	__u32 comm_filter;	/* 1 = only tasks whose comm equals comm[] */
	__u32 selfcheck;	/* 1 = fill map "selfcheck" on the tracer's next syscall */
	char comm[16];
	__u32 auid_filter_on;	/* --auid: only records of this login uid */
	__u32 auid_filter;
};
_Static_assert(sizeof(struct ba_config) == 48, "ba_config size");

#endif /* BPFAUDIT_RECORD_H */
