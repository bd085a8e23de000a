/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel/user boundary of bpfaudit, defined once: the record the exit
 * program submits, the configuration and rule tables user space writes, and
 * the loss-counter indices. tracer/capture/layout.py parses this file to build its
 * decoder; nothing in Python restates an offset or a constant by hand.
 *
 * Rules for this file: fixed-width types only, explicit padding, every
 * struct followed by a _Static_assert of its size, constants as plain
 * "#define NAME <integer>" lines.
 */
#ifndef BPFAUDIT_RECORD_H
#define BPFAUDIT_RECORD_H

#define BA_SCHEMA_VERSION 2

#define BA_COMM_LEN 16
#define BA_TTY_LEN 16
#define BA_NAME_MAX 4096	/* PATH_MAX: names, cwd and exe up to it, as kernel audit logs them */
#define BA_MAX_PATHS 2
#define BA_NARGS 6
#define BA_PROCTITLE_MAX 128	/* kernel audit's MAX_PROCTITLE_AUDIT_LEN */
#define BA_SOCKADDR_MAX 128	/* sizeof(struct sockaddr_storage) */
/* one event, header and items: what one submission may carry (a perf sample
 * must stay below 64 KiB); EXECVE arguments beyond it are cut, flagged and counted */
#define BA_EVENT_MAX 32768

/* audit.h values, so records carry the kernel's own arch codes */
#define BA_AUDIT_ARCH_X86_64 3221225534
#define BA_AUDIT_ARCH_I386 1073741827

/* ABIs indexing the syscall tables */
#define BA_ABI_NATIVE 0
#define BA_ABI_COMPAT 1
#define BA_NR_ABIS 2

/* ba_record.flags */
#define BA_REC_USERSPACE_CHECK 1
#define BA_REC_CUT 2		/* some item was cut or could not be read (its own flags say which) */
#define BA_REC_DECIDED 32	/* stash only: the rule was decided at sys_enter */
#define BA_REC_PENDING 64	/* stash only: sys_enter stashed, sys_exit not yet run */

/* Indices of the per-CPU loss/traffic counters (map "counters") */
#define BA_CNT_EMITTED 0
#define BA_CNT_SUBMIT_FAILED 1
#define BA_CNT_STASH_FULL 2	/* sys_enter got no task storage for the call: dropped unnumbered */
#define BA_CNT_STASH_MISSING 3
#define BA_CNT_ENTER_CANDIDATES 4
#define BA_CNT_ENTER_STASHED 5
#define BA_CNT_CUT 6		/* emitted events with an item cut or unreadable (still emitted) */
#define BA_NR_COUNTERS 7

/*
 * One syscall: the fixed header below, then n_items items (struct ba_item),
 * each followed by its payload padded to 8 bytes; `size` bytes in all. This
 * is the whole audit event, submitted at once.
 */
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
	__u32 per;		/* personality at exit */
	__u32 size;		/* bytes of the event: this header and its items */
	__u16 rule;		/* index of the deciding (or first candidate) rule */
	__u16 flags;		/* BA_REC_* */
	__u16 n_items;
	__u8 abi;		/* BA_ABI_* */
	__u8 version;		/* BA_SCHEMA_VERSION */
	char comm[16];
	char tty[16];
};
_Static_assert(sizeof(struct ba_record) == 192, "ba_record size");
#define BA_RECORD_HDR_SIZE 192

/* item kinds: the records kernel audit writes besides SYSCALL */
#define BA_ITEM_PATH 1		/* a pathname argument as passed; aux: its PATH item index */
#define BA_ITEM_CWD 2		/* the working directory at the call (calls taking a name) */
#define BA_ITEM_EXE 3		/* mm->exe_file's path */
#define BA_ITEM_PROCTITLE 4	/* up to BA_PROCTITLE_MAX bytes of arg_start..arg_end; aux 1: no NUL at arg_end */
#define BA_ITEM_EXECVE 5	/* the new image's arguments, NUL-terminated; aux: argc */
#define BA_ITEM_SOCKADDR 6	/* the address the call passed or got back; aux: the kernel's length */

/* ba_item.flags */
#define BA_ITEM_CUT 1		/* payload cut at its cap (or a path walk stopped early) */
#define BA_ITEM_FAULT 2		/* could not be read: payload empty */

struct ba_item {
	__u16 kind;		/* BA_ITEM_* */
	__u16 flags;		/* BA_ITEM_* */
	__u32 len;		/* payload bytes that follow (then padding to 8) */
	__u32 aux;
	__u32 pad;
};
_Static_assert(sizeof(struct ba_item) == 16, "ba_item size");

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
