/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The objects a call reached, as kernel audit learns them: it fills its PATH
 * items in audit_inode() and audit_inode_child(), called from the path walk.
 * Each object becomes one BA_ITEM_OBJ (record.h), in the order of the
 * kernel's own calls; user space replays them over the call's names into
 * kernel audit's PATH items (tracer/capture/names.py). Two ways to get them:
 *
 *   BA_HOOKS (experimental, off unless BPFAUDIT_FOLLOW_PATH_WALK=1; where the
 *   kernel allows BPF trampolines, which the loader probes): fentry/fexit
 *   programs on the functions of the path walk (below) record every object
 *   of every call, as kernel audit's own calls would. Not yet run on a kernel
 *   we test on (docs/records.md says why).
 *
 *   Otherwise (our 6.18 machines refuse trampolines and have no kprobes),
 *   at sys_exit from where the call left them, for the calls where that is
 *   possible:
 *     open, openat, openat2, creat   the returned descriptor's file: with O_CREAT
 *                                    its directory first (PARENT), then the file
 *                                    (INODE), or the file the call made (CREATE)
 *     chdir, chroot                  the new working or root directory
 *     execve, execveat               the file run (bprm->file, bpf/exec.h), a
 *                                    script's interpreter, and the ELF loader
 *                                    the new image maps (AT_BASE)
 *
 * Either way an exec's capability sets make a BA_ITEM_CAPS (BPRM_FCAPS).
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

/* a child (CREATE, DELETE): its directory's inode and device, and its own name (the last
 * component) copied to `name` */
static __always_inline void obj_child(struct ba_obj *o, void *dir, void *dentry, char *name)
{
	if (dir) {
		bpf_probe_read_kernel(&o->dir_ino, sizeof(o->dir_ino), dir + BA_OFF_INODE_I_INO);
		o->dir_dev = ku32(kptr(dir, BA_OFF_INODE_I_SB), BA_OFF_SB_S_DEV);
	}
	if (!dentry)
		return;
	long n = bpf_probe_read_kernel_str(name, BA_OBJ_NAME_MAX, kptr(dentry, BA_OFF_DENTRY_D_NAME_NAME));

	o->name_len = n > 1 ? n - 1 : 0;
}

/* the caller's pointer to the call's first name (PATH slot 0), which kernel audit's entry for it holds */
static __always_inline __u64 name_uptr(struct ba_record *rec, struct ba_syscall *sc)
{
	return sc->path_arg[0] < BA_NARGS ? rec->args[sc->path_arg[0] & 7] : 0;
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
	__u64 uptr = name_uptr(rec, sc);
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
		obj_child(o, dentry_inode(dir), dentry, obj_name_at(ev, a));
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
	__u64 uptr = name_uptr(rec, sc);

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
	__u64 uptr = name_uptr(rec, sc);
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
#ifdef BA_HOOKS
	st->fcap_dentry = 0;
#endif
}


#ifdef BA_HOOKS
/*
 * Where the kernel lets BPF follow the path walk (fentry/fexit: probed at load,
 * tracer/capture/loader.py), every object comes from the functions kernel audit
 * learns it in, as one op of the call in flight (its stash), in the kernel's order:
 *
 *   filename_lookup() returns        audit_inode(name, dentry, 0)
 *   __filename_parentat() returns    audit_inode(name, dir, AUDIT_INODE_PARENT)
 *   do_filp_open() returns           path_openat()'s: with O_CREAT the directory,
 *                                    then the file found or made (an exec's file,
 *                                    interpreter and loader are opened so too)
 *   may_delete()                     audit_inode_child(dir, victim, DELETE)
 *   security_inode_{create,mkdir,mknod,symlink,link}()
 *                                    audit_inode_child(dir, new, CREATE): the new
 *                                    file is read at sys_exit, once made
 *   security_inode_rename()          audit_inode_child(new_dir, moved, CREATE)
 *   get_vfs_caps_from_disk() returns the file capabilities an exec read (BPRM_FCAPS)
 *
 * Each stops at one task-storage lookup for a thread with no call in flight
 * that a rule may record.
 */
#define BA_O_CREAT_FLAG BA_O_CREAT

static __always_inline struct ba_stash *obj_stash(void)
{
	struct ba_stash *st = stash.task_storage_get(current_task(), 0, 0);

	if (!st || !(st->rec.flags & BA_REC_PENDING))
		return NULL;
	return st;
}

/* the i-th object recorded, its index masked where the compiler cannot drop it (the verifier needs it) */
static __always_inline struct ba_objop *objop_at(struct ba_stash *st, __u32 i)
{
	asm volatile("" : "+r"(i));
	return &st->objs[i & (BA_MAX_OBJS - 1)];
}

static __always_inline struct ba_objop *op_new(struct ba_stash *st, __u8 op)
{
	__u32 i = st->n_objs;

	if (i >= BA_MAX_OBJS) {
		st->objs_cut = 1;
		return NULL;
	}
	st->n_objs = i + 1;
	struct ba_objop *o = objop_at(st, i);

	__builtin_memset(&o->o, 0, sizeof(o->o));
	o->o.op = op;
	o->dentry = 0;
	return o;
}

/* which name: the caller's pointer, or the kernel's own text (getname_kernel() leaves uptr NULL) */
static __always_inline void op_name(struct ba_objop *o, void *filename)
{
	if (!filename)
		return;
	o->o.uptr = (__u64)kptr(filename, BA_OFF_FILENAME_UPTR);
	if (o->o.uptr)
		return;
	long n = bpf_probe_read_kernel_str(o->name, BA_OBJ_NAME_MAX, kptr(filename, BA_OFF_FILENAME_NAME));

	o->o.flags |= BA_OBJ_KNAME;
	o->o.name_len = n > 1 ? n - 1 : 0;
}

static __always_inline void op_lookup(__u8 op, void *filename, void *dentry)
{
	struct ba_stash *st = obj_stash();
	struct ba_objop *o;

	if (!st || !(o = op_new(st, op)))
		return;
	op_name(o, filename);
	obj_inode(&o->o, dentry_inode(dentry));
}

/* a CREATE whose file is read at sys_exit (put_objects) */
static __always_inline void op_create(void *dir, void *dentry)
{
	struct ba_stash *st = obj_stash();
	struct ba_objop *o;

	if (!st || !(o = op_new(st, BA_OBJ_CREATE)))
		return;
	obj_child(&o->o, dir, dentry, o->name);
	o->dentry = (__u64)dentry;
}

#ifdef BA_HOOK_FILENAME_LOOKUP
KRETFUNC_PROBE(filename_lookup, int dfd, void *name, unsigned int flags, void *path, void *root, int ret)
{
	if (ret == 0)
		op_lookup(BA_OBJ_INODE, name, kptr(path, BA_OFF_PATH_DENTRY));
	return 0;
}
#endif

#ifdef BA_HOOK___FILENAME_PARENTAT
KRETFUNC_PROBE(__filename_parentat, int dfd, void *name, unsigned int flags, void *parent, void *last,
	       void *type, void *root, int ret)
{
	if (ret == 0)
		op_lookup(BA_OBJ_PARENT, name, kptr(parent, BA_OFF_PATH_DENTRY));
	return 0;
}
#endif

#ifdef BA_HOOK_DO_FILP_OPEN
KRETFUNC_PROBE(do_filp_open, int dfd, void *pathname, void *op, void *file)
{
	if (!file || (unsigned long)file >= (unsigned long)-BA_MAX_ERRNO)
		return 0;
	struct ba_stash *st = obj_stash();

	if (!st)
		return 0;
	void *dentry = file_dentry(file);
	void *dir = kptr(dentry, BA_OFF_DENTRY_D_PARENT);
	struct ba_objop *o;

	/* open_last_lookups(): with O_CREAT the directory first */
	if ((ku32(op, BA_OFF_OPEN_FLAGS_OPEN_FLAG) & BA_O_CREAT) && (o = op_new(st, BA_OBJ_PARENT))) {
		op_name(o, pathname);
		obj_inode(&o->o, dentry_inode(dir));
	}
	if (ku32(file, BA_OFF_FILE_F_MODE) & BA_FMODE_CREATED) {
		/* fsnotify_create(): the file this open made */
		if ((o = op_new(st, BA_OBJ_CREATE))) {
			obj_child(&o->o, dentry_inode(dir), dentry, o->name);
			obj_inode(&o->o, dentry_inode(dentry));
		}
	} else if ((o = op_new(st, BA_OBJ_INODE))) {
		/* do_open(): the file found */
		op_name(o, pathname);
		obj_inode(&o->o, dentry_inode(dentry));
	}
	return 0;
}
#endif

#ifdef BA_HOOK_MAY_DELETE
KFUNC_PROBE(may_delete, void *idmap, void *dir, void *victim, int isdir)
{
	void *inode = dentry_inode(victim);
	struct ba_stash *st;
	struct ba_objop *o;

	/* a negative victim fails before kernel audit hears of it */
	if (!inode || !(st = obj_stash()) || !(o = op_new(st, BA_OBJ_DELETE)))
		return 0;
	obj_child(&o->o, dir, victim, o->name);
	obj_inode(&o->o, inode);
	return 0;
}
#endif

#ifdef BA_HOOK_SECURITY_INODE_CREATE
KFUNC_PROBE(security_inode_create, void *dir, void *dentry, int mode)
{
	op_create(dir, dentry);
	return 0;
}
#endif

#ifdef BA_HOOK_SECURITY_INODE_MKDIR
KFUNC_PROBE(security_inode_mkdir, void *dir, void *dentry, int mode)
{
	op_create(dir, dentry);
	return 0;
}
#endif

#ifdef BA_HOOK_SECURITY_INODE_MKNOD
KFUNC_PROBE(security_inode_mknod, void *dir, void *dentry, int mode, unsigned int dev)
{
	op_create(dir, dentry);
	return 0;
}
#endif

#ifdef BA_HOOK_SECURITY_INODE_SYMLINK
KFUNC_PROBE(security_inode_symlink, void *dir, void *dentry, void *old_name)
{
	op_create(dir, dentry);
	return 0;
}
#endif

#ifdef BA_HOOK_SECURITY_INODE_LINK
KFUNC_PROBE(security_inode_link, void *old_dentry, void *dir, void *new_dentry)
{
	op_create(dir, new_dentry);
	return 0;
}
#endif

#ifdef BA_HOOK_SECURITY_INODE_RENAME
/* fsnotify_move(): the moved file under its new name (read now: after the move the new dentry is gone) */
KFUNC_PROBE(security_inode_rename, void *old_dir, void *old_dentry, void *new_dir, void *new_dentry,
	    unsigned int flags)
{
	struct ba_stash *st = obj_stash();
	struct ba_objop *o;

	if (!st || !(o = op_new(st, BA_OBJ_CREATE)))
		return 0;
	obj_child(&o->o, new_dir, new_dentry, o->name);
	obj_inode(&o->o, dentry_inode(old_dentry));
	return 0;
}
#endif

#ifdef BA_HOOK_GET_VFS_CAPS_FROM_DISK
/* the last file capabilities an exec read: its credentials' when of bprm->file (exec.h checks) */
KRETFUNC_PROBE(get_vfs_caps_from_disk, void *idmap, void *dentry, void *caps, int ret)
{
	struct ba_stash *st = obj_stash();

	if (!st)
		return 0;
	st->fcap_dentry = (__u64)dentry;
	st->caps.has_fcap = ret == 0;
	st->caps.fp = st->caps.fi = 0;
	st->caps.fmagic = st->caps.frootid = 0;
	if (ret == 0) {
		bpf_probe_read_kernel(&st->caps.fmagic, 4, caps + BA_OFF_VFSCAP_MAGIC_ETC);
		bpf_probe_read_kernel(&st->caps.frootid, 4, caps + BA_OFF_VFSCAP_ROOTID);
		bpf_probe_read_kernel(&st->caps.fp, 8, caps + BA_OFF_VFSCAP_PERMITTED);
		bpf_probe_read_kernel(&st->caps.fi, 8, caps + BA_OFF_VFSCAP_INHERITABLE);
	}
	return 0;
}
#endif

/* sys_exit: the ops, each an item (a CREATE's file read now that the call made it) */
static __always_inline void put_ops(union ba_evbuf *ev, struct ba_asm *a, struct ba_stash *st)
{
	__u32 n = st->n_objs;

	for (__u32 i = 0; i < BA_MAX_OBJS; i++) {
		if (i >= n)
			break;
		struct ba_objop *o = objop_at(st, i);

		if (o->dentry)
			obj_inode(&o->o, dentry_inode((void *)o->dentry));
		__u32 at = payload_at(a);
		__u32 len = o->o.name_len;

		__builtin_memcpy(&ev->buf[at], &o->o, sizeof(o->o));
		asm volatile("" : "+r"(len));	/* keep the mask: the verifier needs it */
		len &= BA_OBJ_NAME_MAX - 1;
		if (len)
			bpf_probe_read_kernel(obj_name_at(ev, a), len, o->name);
		put_item(ev, a, BA_ITEM_OBJ, 0, sizeof(o->o) + len, o->o.op);
	}
}
#endif /* BA_HOOKS */

/* the object of a call, for a path= watch (filter.h path_excludes): what put_objects() names NORMAL or CREATE */
static __always_inline void call_object(struct eval_ctx *c, struct ba_stash *st, struct ba_syscall *sc,
					void *task, long ret, struct ba_exec *x)
{
	struct ba_obj o = {};
	void *dentry = NULL;

	c->have_obj = 0;
#ifdef BA_HOOKS
	/* the last object a lookup reached (a directory only if nothing else) */
	__u32 n = st->n_objs;

	for (__u32 i = 0; i < BA_MAX_OBJS; i++) {
		if (i >= n)
			break;
		struct ba_objop *op = objop_at(st, i);

		if ((op->o.flags & BA_OBJ_HAS_INODE) && (op->o.op != BA_OBJ_PARENT || !c->have_obj)) {
			c->obj_ino = op->o.ino;
			c->obj_dev = op->o.dev;
			c->have_obj = 1;
		}
	}
	return;
#endif
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

#ifdef BA_HOOKS
	put_ops(ev, a, st);
	if (st->objs_cut)
		rec->flags |= BA_REC_OBJS_CUT;
	if (!x)
		return;
#else
	if (sc->obj_from == BA_OBJ_FROM_FD && ret >= 0)
		put_opened(ev, a, rec, sc, task, ret);
	else if (sc->obj_from == BA_OBJ_FROM_PWD && ret == 0)
		put_fs_dir(ev, a, rec, sc, task, BA_OFF_FS_PWD);
	else if (sc->obj_from == BA_OBJ_FROM_ROOT && ret == 0)
		put_fs_dir(ev, a, rec, sc, task, BA_OFF_FS_ROOT);
	if (!x)
		return;
	put_exec_objects(ev, a, rec, sc, x);
#endif

	struct ba_caps *c = (void *)&ev->buf[payload_at(a)];
	void *cred = btf_ptr(task, BA_OFF_TASK_CRED);

	*c = st->caps;
	read_caps(task, &c->pp, &c->pi, &c->pe, &c->pa);
	c->securebits = cred ? btf_u32(cred, BA_OFF_CRED_SECUREBITS) : 0;
	put_item(ev, a, BA_ITEM_CAPS, 0, sizeof(*c), 0);
}

#endif /* BPFAUDIT_OBJECTS_H */
