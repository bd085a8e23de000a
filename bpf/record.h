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

#define BA_SCHEMA_VERSION 3

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
#define BA_REC_OBJS_CUT 4	/* the call reached more than BA_MAX_OBJS objects: the rest are not in it */
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
#define BA_ITEM_PATH 1		/* a pathname argument as passed; aux: its slot (ba_syscall path_arg), or: */
#define BA_PATH_SUN 2		/* aux of a unix socket's path (SOCKADDR), which the kernel looks up by its own copy */
#define BA_ITEM_CWD 2		/* the working directory at the call (calls taking a name) */
#define BA_ITEM_EXE 3		/* mm->exe_file's path */
#define BA_ITEM_PROCTITLE 4	/* up to BA_PROCTITLE_MAX bytes of arg_start..arg_end; aux 1: no NUL at arg_end */
#define BA_ITEM_EXECVE 5	/* the new image's arguments, NUL-terminated; aux: argc */
#define BA_ITEM_SOCKADDR 6	/* the address the call passed or got back; aux: the kernel's length */

#define BA_ITEM_OBJ 7		/* an object a lookup of the call reached (struct ba_obj, then its name); aux: BA_OBJ_* */
#define BA_ITEM_CAPS 8		/* a successful exec's capability sets, before and after (struct ba_caps) */

/*
 * BA_ITEM_OBJ: one call of kernel audit's own bookkeeping (kernel/auditsc.c),
 * in the order the kernel made it, with the inode it names as it was then.
 * User space replays them over the call's names (tracer/capture/names.py)
 * into kernel audit's PATH items: which item, nametype, name and attributes.
 */
#define BA_OBJ_INODE 1		/* audit_inode(name, dentry, 0): a lookup's result (filename_lookup, an open) */
#define BA_OBJ_PARENT 2		/* audit_inode(name, dentry, AUDIT_INODE_PARENT): a create/delete's directory */
#define BA_OBJ_CREATE 3		/* audit_inode_child(dir, dentry, AUDIT_TYPE_CHILD_CREATE) */
#define BA_OBJ_DELETE 4		/* audit_inode_child(dir, dentry, AUDIT_TYPE_CHILD_DELETE) */

/* ba_obj.flags */
#define BA_OBJ_HAS_INODE 1	/* ino..gid are the object's (a CREATE whose file was not made has none) */
#define BA_OBJ_KNAME 2		/* INODE/PARENT of a name the kernel made itself (getname_kernel: an exec's
				 * interpreter and loader, a unix socket's path): the name follows */

struct ba_obj {
	__u64 ino;
	__u64 uptr;		/* INODE/PARENT: the caller's pointer the name was read from (struct filename uptr) */
	__u64 dir_ino;		/* CREATE/DELETE: the directory's inode */
	__u32 dev;		/* the kernel's dev_t (major << 20 | minor) */
	__u32 rdev;
	__u32 uid;		/* owner, kernel (init namespace) ids */
	__u32 gid;
	__u32 dir_dev;
	__u16 mode;
	__u8 op;		/* BA_OBJ_INODE.. (also the item's aux) */
	__u8 flags;		/* BA_OBJ_* */
	__u32 name_len;		/* bytes of name after the struct: the kernel's name (KNAME), the child's (CREATE/DELETE) */
	__u32 pad;
};
_Static_assert(sizeof(struct ba_obj) == 56, "ba_obj size");
#define BA_OBJ_NAME_MAX 256	/* a child's name is at most NAME_MAX (255); a kernel name longer is cut */
#define BA_MAX_OBJS 8		/* objects one call keeps where the path walk is followed (objects.h, BA_HOOKS) */

/* BA_ITEM_CAPS: what audit_log_bprm_fcaps() writes, and what decides whether it does */
struct ba_caps {
	__u64 old_pp;		/* the caller's permitted, inheritable, effective, ambient sets before the exec */
	__u64 old_pi;
	__u64 old_pe;
	__u64 old_pa;
	__u64 pp;		/* the same sets after it */
	__u64 pi;
	__u64 pe;
	__u64 pa;
	__u64 fp;		/* the file's capabilities (security.capability), 0 without */
	__u64 fi;
	__u32 fmagic;		/* cpu_vfs_cap_data.magic_etc: revision and effective bit */
	__u32 frootid;
	__u32 has_fcap;		/* 1: the exec read file capabilities (known only where the path walk is followed) */
	__u32 securebits;	/* the new credentials' */
	__u32 old_uid;		/* the caller's uid and gid before the exec */
	__u32 old_gid;
};
_Static_assert(sizeof(struct ba_caps) == 104, "ba_caps size");

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
