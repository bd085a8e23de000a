/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Rule tables: the compiled form of auditctl exit-list rules that the BPF
 * programs evaluate. Field types and actions are the kernel's own numbers
 * (include/uapi/linux/audit.h) so a compiled rule reads like the kernel's.
 * Comparisons are on 32-bit values, as the kernel's audit_comparator().
 * Parsed by tracer/layout.py like record.h.
 */
#ifndef BPFAUDIT_RULES_H
#define BPFAUDIT_RULES_H

#define BA_MAX_RULES 128
#define BA_RULE_WORDS 2
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

/* operators */
#define BA_OP_EQ 1
#define BA_OP_NE 2
#define BA_OP_LT 3
#define BA_OP_LE 4
#define BA_OP_GT 5
#define BA_OP_GE 6
#define BA_OP_BITMASK 7		/* & : (v & x) != 0 */
#define BA_OP_BITTEST 8		/* &= : (v & x) == x */

/* ba_rule.flags */
#define BA_RULE_EXIT_FIELDS 1	/* has exit/success: decided at sys_exit */
#define BA_RULE_USERSPACE 2	/* has fields only user space can evaluate */

/* ba_syscall.flags */
#define BA_SC_CHANGES_CREDS 1	/* identity may change during the call: decide at exit */

struct ba_field {
	__u32 type;		/* BA_F_* */
	__u32 op;		/* BA_OP_* */
	__u32 value;
	__u32 pad;
};
_Static_assert(sizeof(struct ba_field) == 16, "ba_field size");

struct ba_rule {
	__u32 action;		/* BA_ACT_* */
	__u32 nfields;		/* BPF-evaluable fields in fields[] */
	__u32 flags;		/* BA_RULE_* */
	__u32 pad;
	struct ba_field fields[16];
};
_Static_assert(sizeof(struct ba_rule) == 272, "ba_rule size");

/* Per (abi, syscall number): which rules name it, and where its paths are. */
struct ba_syscall {
	__u64 rules[2];		/* bit i: rule i lists this syscall (BA_RULE_WORDS) */
	__s8 path_arg[2];	/* argument index of a pathname, -1 if none */
	__u8 flags;		/* BA_SC_* */
	__u8 pad[5];
};
_Static_assert(sizeof(struct ba_syscall) == 24, "ba_syscall size");

#endif /* BPFAUDIT_RULES_H */
