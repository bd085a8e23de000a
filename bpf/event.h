/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-side working structs of one event (never seen by user space, which
 * reads only record.h): the per-thread stash from sys_enter to sys_exit, the
 * per-CPU buffer sys_exit assembles the event in, and the exec's own copy of
 * its name and argc from sched_process_exec.
 */
#ifndef BPFAUDIT_EVENT_H
#define BPFAUDIT_EVENT_H

#include "record.h"

/* offsets into the event buffer are masked with this; the buffer is twice as long */
#define BA_EV_MASK (BA_EVENT_MAX - 1)
#define BA_NAME_MASK (BA_NAME_MAX - 1)
_Static_assert((BA_EVENT_MAX & BA_EV_MASK) == 0, "BA_EVENT_MAX is a power of two");
_Static_assert((BA_NAME_MAX & BA_NAME_MASK) == 0, "BA_NAME_MAX is a power of two");

/* bytes of a walked path kept for the thread's next events (longer ones are walked each time) */
#define BA_PATHCACHE_LEN 256

/*
 * A path the dentry walk (dpath.h) made, reused while its key holds: the same
 * dentry and mount, the dentry still under the same parent with the same name
 * (hash and length), under the same root. exec, chdir, chroot and fork (a new
 * thread has no cache) all change the key; so does a rename of the file or
 * directory itself. A rename of a directory above it does not: the name then
 * stays the one it had at the walk (docs/design.md).
 */
struct ba_pathcache {
	__u64 dentry;
	__u64 vfsmnt;
	__u64 parent;
	__u64 hash_len;
	__u64 root;
	__u32 len;		/* 0: nothing kept */
	__u32 flags;
	char name[BA_PATHCACHE_LEN];
};

/* an object one of the call's lookups reached (objects.h, BA_HOOKS), until sys_exit */
struct ba_objop {
	struct ba_obj o;
	__u64 dentry;		/* a CREATE's new dentry: its inode is read at sys_exit */
	char name[BA_OBJ_NAME_MAX];
};

/* sys_enter -> sys_exit, in the thread's task storage */
struct ba_stash {
	struct ba_record rec;
	/* fs->pwd when the call began (calls taking a name): kernel audit's CWD is
	 * taken at the first name lookup, so chdir logs the directory it left */
	__u64 pwd_dentry;
	__u64 pwd_mnt;
	/* PROCTITLE, read at the thread's first emitted event and kept, as kernel
	 * audit keeps it in the task's audit context (audit_log_proctitle) */
	__u32 title_len;	/* 0: not read yet */
	__u32 title_aux;	/* BA_ITEM_PROCTITLE aux */
	char title[BA_PROCTITLE_MAX];
	struct ba_pathcache exe;	/* the last EXE and CWD items' paths */
	struct ba_pathcache cwd;
	/* an exec: the caller's capability sets and ids at sys_enter (BPRM_FCAPS, objects.h) */
	struct ba_caps caps;
#ifdef BA_HOOKS
	/* the objects the call's lookups reached so far, in the kernel's order (objects.h) */
	__u32 n_objs;
	__u32 objs_cut;
	__u64 fcap_dentry;	/* whose file capabilities caps holds */
	struct ba_objop objs[BA_MAX_OBJS];
#endif
};

/* one event being assembled; items are written at masked offsets < BA_EVENT_MAX */
union ba_evbuf {
	struct ba_record hdr;
	char buf[2 * BA_EVENT_MAX];
};

/*
 * The dentry walk (dpath.h): its position, in map memory rather than
 * registers, so that every iteration looks alike to the verifier (which then
 * prunes instead of walking each depth's states), and the path it builds backwards.
 */
struct ba_pathbuf {
	__u64 dentry;
	__u64 vfsmnt;
	__u64 mnt_root;
	__u32 pos;		/* where the path built so far starts in buf */
	__u32 done;		/* reached the root */
	char buf[2 * BA_NAME_MAX];
};

/* sched_process_exec -> sys_exit of the exec: bprm->filename and argc, and the
 * files kernel audit names (objects.h): the one run, a script's interpreter, the ELF loader */
struct ba_exec {
	__u32 argc;
	__u32 name_len;		/* bytes of name including its NUL; 0: unreadable */
	__u32 interp_len;	/* a script's interpreter (bprm->interp): its bytes; 0: not a script */
	__u32 pad;
	struct ba_obj file;	/* bprm->file: the file run (the interpreter, for a script) */
	struct ba_obj loader;	/* the ELF interpreter the new image maps at AT_BASE (flags 0: none; no inode yet) */
	char interp[BA_OBJ_NAME_MAX];
	char loader_name[BA_OBJ_NAME_MAX];	/* its name as the ELF's PT_INTERP gives it */
	char name[BA_NAME_MAX];
};

#endif /* BPFAUDIT_EVENT_H */
