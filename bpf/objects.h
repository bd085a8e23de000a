/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The objects a call reached, as kernel audit learns them: it fills its PATH
 * items in audit_inode() and audit_inode_child(), called from the path walk.
 * Where the kernel lets BPF follow those functions (fentry/fexit, kprobes)
 * that would be the way; the kernels bpfaudit runs on refuse both (docs/
 * records.md), so the objects are taken at sys_exit from where the call
 * left them, in the order the kernel's own calls came:
 *
 *   open, openat, openat2, creat   the returned descriptor's file: with O_CREAT
 *                                  its directory first (PARENT), then the file
 *                                  (INODE), or the file the call made (CREATE)
 *   chdir, chroot                  the new working or root directory
 *   execve, execveat               the file run (bprm->file, bpf/exec.h), a
 *                                  script's interpreter, and the ELF loader
 *                                  the new image maps (AT_BASE)
 *
 * Each becomes one BA_ITEM_OBJ (record.h); user space replays them over the
 * call's names into kernel audit's PATH items (tracer/capture/names.py).
 */
#ifndef BPFAUDIT_OBJECTS_H
#define BPFAUDIT_OBJECTS_H

#include "maps.h"
#include "task.h"

#define BA_O_CREAT 0100		/* include/uapi/asm-generic/fcntl.h */
#define BA_FMODE_CREATED 0x100000	/* include/linux/fs.h (the same bit in 6.1 and after the 6.10 renumbering) */
#define BA_MAX_ERRNO 4095

/*
 * Reads through pointers that may come from a raw tracepoint's arguments or a
 * descriptor table (not BTF-typed for the verifier): copies, which fault safely.
 */
static __always_inline void *kptr(void *base, __u32 off)
{
	void *p = NULL;

	if (base)
		bpf_probe_read_kernel(&p, sizeof(p), base + off);
	return p;
}

static __always_inline __u32 ku32(void *base, __u32 off)
{
	__u32 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), base + off);
	return v;
}

/* audit_copy_inode(): what a PATH item says of an inode */
static __always_inline void obj_inode(struct ba_obj *o, void *inode)
{
	if (!inode)
		return;
	void *sb = kptr(inode, BA_OFF_INODE_I_SB);

	bpf_probe_read_kernel(&o->ino, sizeof(o->ino), inode + BA_OFF_INODE_I_INO);
	bpf_probe_read_kernel(&o->mode, sizeof(o->mode), inode + BA_OFF_INODE_I_MODE);
	o->dev = sb ? ku32(sb, BA_OFF_SB_S_DEV) : 0;
	o->uid = ku32(inode, BA_OFF_INODE_I_UID);
	o->gid = ku32(inode, BA_OFF_INODE_I_GID);
	o->rdev = ku32(inode, BA_OFF_INODE_I_RDEV);
	o->flags |= BA_OBJ_HAS_INODE;
}

static __always_inline void *dentry_inode(void *dentry)
{
	return kptr(dentry, BA_OFF_DENTRY_D_INODE);
}

static __always_inline void *file_dentry(void *file)
{
	return kptr(file, BA_OFF_FILE_F_PATH + BA_OFF_PATH_DENTRY);
}

/* a new OBJ item, written in place: its name (if any) is written after it, then obj_end() */
static __always_inline struct ba_obj *obj_begin(union ba_evbuf *ev, struct ba_asm *a, __u8 op, __u64 uptr)
{
	struct ba_obj *o = (void *)&ev->buf[payload_at(a)];

	__builtin_memset(o, 0, sizeof(*o));
	o->op = op;
	o->uptr = uptr;
	return o;
}

static __always_inline char *obj_name_at(union ba_evbuf *ev, struct ba_asm *a)
{
	return &ev->buf[(payload_at(a) + sizeof(struct ba_obj)) & BA_EV_MASK];
}

static __always_inline void obj_end(union ba_evbuf *ev, struct ba_asm *a, struct ba_obj *o)
{
	__u32 len = o->name_len;

	put_item(ev, a, BA_ITEM_OBJ, 0, sizeof(*o) + (len & (BA_OBJ_NAME_MAX - 1)), o->op);
}

/* an object named by the kernel's own text (copied from kernel memory, at most BA_OBJ_NAME_MAX - 1 bytes) */
static __always_inline void obj_kname(union ba_evbuf *ev, struct ba_asm *a, struct ba_obj *o, const char *text)
{
	long n = bpf_probe_read_kernel_str(obj_name_at(ev, a), BA_OBJ_NAME_MAX, text);

	o->flags |= BA_OBJ_KNAME;
	o->name_len = n > 1 ? n - 1 : 0;
}

/* the file behind a descriptor of the task */
static __always_inline void *fd_file(void *task, long fd)
{
	void *fdt = kptr(kptr(task, BA_OFF_TASK_FILES), BA_OFF_FILES_FDT);

	if (!fdt || fd < 0 || fd >= ku32(fdt, BA_OFF_FDTABLE_MAX_FDS))
		return NULL;
	return kptr(kptr(fdt, BA_OFF_FDTABLE_FD), fd * sizeof(void *));
}

/* the open flags of an open-family call (struct open_how's first member for openat2) */
static __always_inline __u64 open_flags(struct ba_record *rec, struct ba_syscall *sc)
{
	__u8 arg = sc->open_flags_arg;
	__u64 flags = 0;

	if (arg == BA_OPEN_CREAT)
		return BA_O_CREAT;
	if (arg == BA_OPEN_HOW) {
		bpf_probe_read_user(&flags, sizeof(flags), (void *)rec->args[2]);
		return flags;
	}
	return arg < BA_NARGS ? rec->args[arg & 7] : 0;
}

/* open-family calls: open_last_lookups() and do_open(), in their order */
static __always_inline void put_opened(union ba_evbuf *ev, struct ba_asm *a, struct ba_record *rec,
				       struct ba_syscall *sc, void *task, long ret)
{
	void *file = fd_file(task, ret);
	void *dentry = file_dentry(file);
	__u64 uptr = sc->path_arg[0] < BA_NARGS ? rec->args[sc->path_arg[0] & 7] : 0;
	struct ba_obj *o;

	if (!dentry)
		return;
	void *dir = kptr(dentry, BA_OFF_DENTRY_D_PARENT);

	if (open_flags(rec, sc) & BA_O_CREAT) {
		o = obj_begin(ev, a, BA_OBJ_PARENT, uptr);
		obj_inode(o, dentry_inode(dir));
		obj_end(ev, a, o);
	}
	if (ku32(file, BA_OFF_FILE_F_MODE) & BA_FMODE_CREATED) {
		/* fsnotify_create(): the file the call made, under its own name */
		o = obj_begin(ev, a, BA_OBJ_CREATE, 0);
		if (dir) {
			void *d = dentry_inode(dir);

			if (d) {
				bpf_probe_read_kernel(&o->dir_ino, sizeof(o->dir_ino), d + BA_OFF_INODE_I_INO);
				o->dir_dev = ku32(kptr(d, BA_OFF_INODE_I_SB), BA_OFF_SB_S_DEV);
			}
		}
		long n = bpf_probe_read_kernel_str(obj_name_at(ev, a), BA_OBJ_NAME_MAX,
						   kptr(dentry, BA_OFF_DENTRY_D_NAME_NAME));

		o->name_len = n > 1 ? n - 1 : 0;
		obj_inode(o, dentry_inode(dentry));
	} else {
		o = obj_begin(ev, a, BA_OBJ_INODE, uptr);
		obj_inode(o, dentry_inode(dentry));
	}
	obj_end(ev, a, o);
}

/* chdir, chroot: the directory the call made the task's own */
static __always_inline void put_fs_dir(union ba_evbuf *ev, struct ba_asm *a, struct ba_record *rec,
				       struct ba_syscall *sc, void *task, __u32 member)
{
	void *fs = btf_ptr(task, BA_OFF_TASK_FS);
	__u64 uptr = sc->path_arg[0] < BA_NARGS ? rec->args[sc->path_arg[0] & 7] : 0;

	if (!fs)
		return;
	struct ba_obj *o = obj_begin(ev, a, BA_OBJ_INODE, uptr);

	obj_inode(o, dentry_inode(kptr(fs, member + BA_OFF_PATH_DENTRY)));
	obj_end(ev, a, o);
}

/* a successful exec: the file (the script, whose inode is gone by now: no attributes), the
 * interpreter, the ELF loader; as open_exec() opened them (bpf/exec.h kept them) */
static __always_inline void put_exec_objects(union ba_evbuf *ev, struct ba_asm *a, struct ba_record *rec,
					     struct ba_syscall *sc, struct ba_exec *x)
{
	__u64 uptr = sc->path_arg[0] < BA_NARGS ? rec->args[sc->path_arg[0] & 7] : 0;
	struct ba_obj *o = obj_begin(ev, a, BA_OBJ_INODE, uptr);

	if (!x->interp_len)
		*o = x->file;
	o->op = BA_OBJ_INODE;
	o->uptr = uptr;
	obj_end(ev, a, o);
	if (x->interp_len) {
		o = obj_begin(ev, a, BA_OBJ_INODE, 0);
		*o = x->file;
		o->op = BA_OBJ_INODE;
		obj_kname(ev, a, o, x->interp);
		obj_end(ev, a, o);
	}
	if (x->loader.flags) {
		o = obj_begin(ev, a, BA_OBJ_INODE, 0);
		*o = x->loader;
		o->op = BA_OBJ_INODE;
		obj_kname(ev, a, o, x->loader_name);
		/* PT_INTERP lies in a page of the new image not yet faulted in: then the item is
		 * there (kernel audit's items= and order hold) but its name is flagged unreadable */
		put_item(ev, a, BA_ITEM_OBJ, o->name_len ? 0 : BA_ITEM_FAULT,
			 sizeof(*o) + (o->name_len & (BA_OBJ_NAME_MAX - 1)), o->op);
	}
}

/* a task's capability sets (kernel_cap_t: 8 bytes, 4-aligned in 6.1): by copy, not a direct load */
static __always_inline void read_caps(void *task, __u64 *p, __u64 *i, __u64 *e, __u64 *a)
{
	void *cred = btf_ptr(task, BA_OFF_TASK_CRED);

	*p = *i = *e = *a = 0;
	if (!cred)
		return;
	bpf_probe_read_kernel(p, 8, cred + BA_OFF_CRED_CAP_PERMITTED);
	bpf_probe_read_kernel(i, 8, cred + BA_OFF_CRED_CAP_INHERITABLE);
	bpf_probe_read_kernel(e, 8, cred + BA_OFF_CRED_CAP_EFFECTIVE);
	bpf_probe_read_kernel(a, 8, cred + BA_OFF_CRED_CAP_AMBIENT);
}

/* sys_enter of an exec: the caller's sets and ids, before the exec changes them */
static __always_inline void stash_old_caps(struct ba_stash *st, void *task)
{
	void *cred = btf_ptr(task, BA_OFF_TASK_CRED);

	read_caps(task, &st->caps.old_pp, &st->caps.old_pi, &st->caps.old_pe, &st->caps.old_pa);
	st->caps.old_uid = cred ? btf_u32(cred, BA_OFF_CRED_UID) : 0;
	st->caps.old_gid = cred ? btf_u32(cred, BA_OFF_CRED_GID) : 0;
	st->caps.has_fcap = 0;
	st->caps.fp = st->caps.fi = 0;
	st->caps.fmagic = st->caps.frootid = 0;
}

/* the object of a call, for a path= watch (filter.h path_excludes): what put_objects() names NORMAL or CREATE */
static __always_inline void call_object(struct eval_ctx *c, struct ba_stash *st, struct ba_syscall *sc,
					void *task, long ret, struct ba_exec *x)
{
	struct ba_obj o = {};
	void *dentry = NULL;

	c->have_obj = 0;
	if (x) {
		o = x->file;
	} else if (sc->obj_from == BA_OBJ_FROM_FD && ret >= 0) {
		dentry = file_dentry(fd_file(task, ret));
	} else if ((sc->obj_from == BA_OBJ_FROM_PWD || sc->obj_from == BA_OBJ_FROM_ROOT) && ret == 0) {
		void *fs = kptr(task, BA_OFF_TASK_FS);

		dentry = kptr(fs, (sc->obj_from == BA_OBJ_FROM_PWD ? BA_OFF_FS_PWD : BA_OFF_FS_ROOT) +
				      BA_OFF_PATH_DENTRY);
	}
	if (dentry)
		obj_inode(&o, dentry_inode(dentry));
	if (o.flags & BA_OBJ_HAS_INODE) {
		c->obj_ino = o.ino;
		c->obj_dev = o.dev;
		c->have_obj = 1;
	}
}

/* sys_exit: the call's objects, then a successful exec's capability sets (BPRM_FCAPS) */
static __always_inline void put_objects(union ba_evbuf *ev, struct ba_asm *a, struct ba_stash *st,
					struct ba_syscall *sc, void *task, long ret, struct ba_exec *x)
{
	struct ba_record *rec = &st->rec;

	if (sc->obj_from == BA_OBJ_FROM_FD && ret >= 0)
		put_opened(ev, a, rec, sc, task, ret);
	else if (sc->obj_from == BA_OBJ_FROM_PWD && ret == 0)
		put_fs_dir(ev, a, rec, sc, task, BA_OFF_FS_PWD);
	else if (sc->obj_from == BA_OBJ_FROM_ROOT && ret == 0)
		put_fs_dir(ev, a, rec, sc, task, BA_OFF_FS_ROOT);
	if (!x)
		return;
	put_exec_objects(ev, a, rec, sc, x);

	struct ba_caps *c = (void *)&ev->buf[payload_at(a)];
	void *cred = btf_ptr(task, BA_OFF_TASK_CRED);

	*c = st->caps;
	read_caps(task, &c->pp, &c->pi, &c->pe, &c->pa);
	c->securebits = cred ? btf_u32(cred, BA_OFF_CRED_SECUREBITS) : 0;
	put_item(ev, a, BA_ITEM_CAPS, 0, sizeof(*c), 0);
}

#endif /* BPFAUDIT_OBJECTS_H */
