/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Rule tables: the compiled form of auditctl exit-list rules that the BPF
 * programs evaluate. Field types and actions are the kernel's own numbers
 * (include/uapi/linux/audit.h) so a compiled rule reads like the kernel's.
 * Comparisons are on 32-bit values, as the kernel's audit_comparator().
 * Parsed by tracer/capture/layout.py like record.h.
 */
#ifndef BPFAUDIT_RULES_H
#define BPFAUDIT_RULES_H

#define BA_MAX_RULES 255
#define BA_NO_PATH 255
#define BA_MAX_CANDIDATES 32	/* rules one syscall can be judged by in BPF */
#define BA_MAX_FIELDS 16
#define BA_NR_SYSCALLS 1024

/* actions (AUDIT_NEVER, AUDIT_ALWAYS) */
#define BA_ACT_NEVER 0
#define BA_ACT_ALWAYS 2

/* field types BPF evaluates (AUDIT_* numbers) */
#define BA_F_PID 0
#define BA_F_UID 1
#define BA_F_EUID 2
#define BA_F_SUID 3
#define BA_F_FSUID 4
#define BA_F_GID 5
#define BA_F_EGID 6
#define BA_F_SGID 7
#define BA_F_FSGID 8
#define BA_F_LOGINUID 9
#define BA_F_PERS 10
#define BA_F_ARCH 11
#define BA_F_PPID 18
#define BA_F_LOGINUID_SET 24
#define BA_F_SESSIONID 25
#define BA_F_EXIT 103
#define BA_F_SUCCESS 104
#define BA_F_ARG0 200
#define BA_F_ARG1 201
#define BA_F_ARG2 202
#define BA_F_ARG3 203

/* operators, as FieldCheck.op in tracer/filters.py */
#define BA_OP_EQ 1
#define BA_OP_NE 2
#define BA_OP_LT 3
#define BA_OP_LE 4
#define BA_OP_GT 5
#define BA_OP_GE 6
#define BA_OP_BITMASK 7		/* & : (v & x) != 0 */
#define BA_OP_BITTEST 8		/* &= : (v & x) == x */

/*
 * Value slots: where the programs put each comparable value (eval_ctx.vals).
 * tracer/capture/tables.py maps BA_F_* field types to these.
 */
#define BA_SLOT_PID 0
#define BA_SLOT_PPID 1
#define BA_SLOT_AUID 2
#define BA_SLOT_LOGINUID_SET 3
#define BA_SLOT_SES 4
#define BA_SLOT_PERS 5
#define BA_SLOT_ARCH 6
#define BA_SLOT_UID 7
#define BA_SLOT_GID 8
#define BA_SLOT_SUID 9
#define BA_SLOT_SGID 10
#define BA_SLOT_EUID 11
#define BA_SLOT_EGID 12
#define BA_SLOT_FSUID 13
#define BA_SLOT_FSGID 14
#define BA_SLOT_ARG0 15
#define BA_SLOT_ARG1 16
#define BA_SLOT_ARG2 17
#define BA_SLOT_ARG3 18
#define BA_SLOT_EXIT 19
#define BA_SLOT_SUCCESS 20	/* 1 success, 2 failure: AUDITSC_SUCCESS/FAILURE */
#define BA_NR_SLOTS 32

/* ba_rule.flags */
#define BA_RULE_EXIT_FIELDS 1	/* has exit/success: decided at sys_exit */
#define BA_RULE_USERSPACE 2	/* has fields only user space can evaluate */

/* bytes of a path=/dir= name a rule carries for BPF's prefix test (filter.h) */
#define BA_PREFIX_LEN 64

/* ba_syscall.flags */
#define BA_SC_CHANGES_CREDS 1	/* identity may change during the call: decide at exit */
#define BA_SC_LISTED 2		/* in the native entry: some ABI's rules list this number */
#define BA_SC_PATH_RULES 4	/* a candidate rule has a path= or dir= name prefix */
#define BA_SC_EXEC 8		/* execve/execveat: the name and arguments come from the exec (bpf/exec.h) */

/* ba_syscall.obj_from */
#define BA_OBJ_FROM_NONE 0
#define BA_OBJ_FROM_FD 1	/* the descriptor returned (open, openat, openat2, creat) */
#define BA_OBJ_FROM_PWD 2	/* the new working directory (chdir) */
#define BA_OBJ_FROM_ROOT 3	/* the new root (chroot) */
/* ba_syscall.open_flags_arg beyond argument indices */
#define BA_OPEN_CREAT 6		/* creat(): O_CREAT implied */
#define BA_OPEN_HOW 7		/* openat2(): the flags are struct open_how's first member, argument 2 points to it */

/* ba_syscall.sock_mode: where kernel audit's SOCKADDR comes from (move_addr_to_kernel/_user) */
#define BA_SOCK_NONE 0
#define BA_SOCK_IN 1		/* passed in: the length is argument sock_len_arg (connect, bind, sendto) */
#define BA_SOCK_OUT 2		/* written back on success: argument sock_len_arg points to the length */

/*
 * One comparison, in a form the verifier walks cheaply: every audit operator
 * on a 32-bit value v is "(v & mask) in [lo, hi]", possibly negated.
 */
struct ba_field {
	__u8 slot;		/* BA_SLOT_* */
	__u8 negate;
	__u16 pad;
	__u32 mask;
	__u32 lo;
	__u32 hi;
};
_Static_assert(sizeof(struct ba_field) == 16, "ba_field size");

struct ba_rule {
	__u32 action;		/* BA_ACT_* */
	__u32 nfields;		/* BPF-evaluable fields in fields[] */
	__u32 flags;		/* BA_RULE_* */
	/*
	 * A user-space rule with path= or dir=: the first prefix_len bytes
	 * (at most BA_PREFIX_LEN) of its normalised name. No path of the
	 * syscall can match unless one starts with them; 0 = no such test.
	 */
	__u32 prefix_len;
	struct ba_field fields[16];
	__u64 prefix[8];	/* BA_PREFIX_LEN bytes, zero past prefix_len */
	__u64 prefix_mask[8];	/* 0xff for each byte of prefix[] in use */
	/*
	 * A path= rule (a watch): the watched file's inode and device when the rule was loaded
	 * (watch_set 1); a call whose object is that inode is not excluded by the name test,
	 * whatever name reached it (a hard link, a symlink, a ".." walk, a relative name).
	 */
	__u64 watch_ino;
	__u32 watch_dev;	/* the kernel's dev_t (major << 20 | minor) */
	__u32 watch_set;
};
_Static_assert(sizeof(struct ba_rule) == 416, "ba_rule size");

/*
 * Per (abi, syscall number): the rules that can match it, in rule order, and
 * where its pathnames are. A list rather than a bitmap of all rules: the
 * verifier then walks BA_MAX_CANDIDATES iterations, not BA_MAX_RULES.
 */
struct ba_syscall {
	__u8 nrules;		/* entries used in rule[]; 0: no rule, not traced */
	__u8 flags;		/* BA_SC_* */
	__u8 path_arg[2];	/* argument index of a pathname, BA_NO_PATH if none */
	__u32 slots;		/* bit per BA_SLOT_* the candidate rules compare */
	__u8 rule[32];		/* rule indices (BA_MAX_CANDIDATES) */
	/*
	 * In the native entry: every candidate rule of this number, in either
	 * ABI, requires an auid in [auid_lo, auid_hi] (0 and 0xffffffff: no such
	 * bound), so sys_enter rejects a task outside it on one load.
	 */
	__u32 auid_lo;
	__u32 auid_hi;
	__u8 sock_arg;		/* argument index of a socket address, with sock_mode */
	__u8 sock_len_arg;
	__u8 sock_mode;		/* BA_SOCK_* */
	__u8 obj_from;		/* BA_OBJ_FROM_*: where sys_exit finds the object the call reached (objects.h) */
	__u8 open_flags_arg;	/* open family: argument index of the flags, or BA_OPEN_CREAT / BA_OPEN_HOW */
	__u8 pad[3];
};
_Static_assert(sizeof(struct ba_syscall) == 56, "ba_syscall size");

#endif /* BPFAUDIT_RULES_H */
