/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The items of an event (record.h): what kernel audit writes besides the
 * SYSCALL record, each read at the syscall from the kernel's own objects or
 * the caller's memory, appended to the event sys_exit assembles. An item that
 * is cut or unreadable says so in its flags; nothing is left out silently.
 */
#ifndef BPFAUDIT_ITEMS_H
#define BPFAUDIT_ITEMS_H

#include "maps.h"
#include "task.h"
#include "dpath.h"
#include "eval_ctx.h"

static __always_inline union ba_evbuf *event_buffer(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return evbufs.lookup(&cpu);
}

static __always_inline __u32 payload_at(struct ba_asm *a)
{
	return (a->off + sizeof(struct ba_item)) & BA_EV_MASK;
}

/* the header of the item whose payload (len bytes) is already at payload_at() */
static __always_inline void put_item(union ba_evbuf *ev, struct ba_asm *a, __u16 kind, __u16 flags,
				     __u32 len, __u32 aux)
{
	struct ba_item *it = (void *)&ev->buf[a->off & BA_EV_MASK];

	it->kind = kind;
	it->flags = flags;
	it->len = len;
	it->aux = aux;
	it->pad = 0;
	a->n_items++;
	a->cut |= flags;
	a->off += sizeof(*it) + ((len + 7) & ~7);
}

/* fs->pwd at sys_enter of a call taking a name (CWD is the directory the lookup started in) */
static __always_inline void stash_pwd(struct ba_stash *st, void *task)
{
	void *fs = btf_ptr(task, BA_OFF_TASK_FS);

	st->pwd_dentry = st->pwd_mnt = 0;
	if (fs) {
		st->pwd_dentry = (__u64)btf_ptr(fs, BA_OFF_FS_PWD + BA_OFF_PATH_DENTRY);
		st->pwd_mnt = (__u64)btf_ptr(fs, BA_OFF_FS_PWD + BA_OFF_PATH_MNT);
	}
}

/*
 * PATH items: the pathname arguments, to PATH_MAX. A successful exec's
 * first name is the kernel's own copy (bprm->filename, bpf/exec.h): the
 * caller's memory is gone by sys_exit, and was maybe never paged in at
 * sys_enter. Other names are read at sys_exit, after the kernel's getname()
 * faulted them in. Sets the evaluation context's view of them (filter.h).
 */
static __always_inline void put_names(union ba_evbuf *ev, struct ba_asm *a, struct ba_record *rec,
				      struct ba_syscall *sc, struct eval_ctx *c, struct ba_exec *x)
{
#pragma unroll
	for (int slot = 0; slot < BA_MAX_PATHS; slot++) {
		__u8 arg = sc->path_arg[slot];
		__u32 at = payload_at(a);
		__u16 flags = 0;
		__u32 len = 0;
		long n;

		c->path_strlen[slot] = 0;
		c->path_off[slot] = at;
		if (arg >= BA_NARGS)
			continue;
		if (slot == 0 && x)
			n = bpf_probe_read_kernel_str(&ev->buf[at], BA_NAME_MAX, x->name);
		else
			n = bpf_probe_read_user_str(&ev->buf[at], BA_NAME_MAX, (void *)rec->args[arg]);
		if (n <= 0) {
			flags = BA_ITEM_FAULT;
		} else {
			len = n - 1;
			if (n == BA_NAME_MAX)
				flags = BA_ITEM_CUT;
			a->named = 1;
		}
		c->path_strlen[slot] = len;
		put_item(ev, a, BA_ITEM_PATH, flags, len, slot);
	}
}

/* the task's root, which d_path() names everything relative to */
static __always_inline void task_root(void *task, __u64 *root_d, __u64 *root_mnt)
{
	void *fs = btf_ptr(task, BA_OFF_TASK_FS);

	*root_d = *root_mnt = 0;
	if (fs) {
		*root_d = (__u64)btf_ptr(fs, BA_OFF_FS_ROOT + BA_OFF_PATH_DENTRY);
		*root_mnt = (__u64)btf_ptr(fs, BA_OFF_FS_ROOT + BA_OFF_PATH_MNT);
	}
}

static __always_inline void put_cwd(union ba_evbuf *ev, struct ba_asm *a, struct ba_stash *st, void *task,
				    __u64 root_d, __u64 root_mnt)
{
	void *fs = btf_ptr(task, BA_OFF_TASK_FS);
	void *pwd = fs ? btf_ptr(fs, BA_OFF_FS_PWD + BA_OFF_PATH_DENTRY) : NULL;
	void *pwd_mnt = fs ? btf_ptr(fs, BA_OFF_FS_PWD + BA_OFF_PATH_MNT) : NULL;
	__u64 parent = 0, hash_len = 0;
	__u16 flags = 0;
	__u32 len = 0;
	/* still in the directory the call started in (no chdir): the cache may hold it */
	int same = pwd && (__u64)pwd == st->pwd_dentry && (__u64)pwd_mnt == st->pwd_mnt;

	if (!st->pwd_dentry) {
		put_item(ev, a, BA_ITEM_CWD, BA_ITEM_FAULT, 0, 0);
		return;
	}
	if (same)
		len = cache_copy(ev, a->off, &st->cwd, pwd, pwd_mnt, root_d, &flags, &parent, &hash_len);
	if (!len) {
		len = put_dpath(ev, a->off, st->pwd_dentry, st->pwd_mnt, root_d, root_mnt, &flags);
		if (same)
			cache_keep(ev, a->off, &st->cwd, pwd, pwd_mnt, root_d, parent, hash_len, len, flags);
	}
	put_item(ev, a, BA_ITEM_CWD, flags, len, 0);
}

/* mm->exe_file's path; no item for a task without one (exe=(null), as kernel audit) */
static __always_inline void put_exe(union ba_evbuf *ev, struct ba_asm *a, struct ba_stash *st, void *mm,
				    __u64 root_d, __u64 root_mnt)
{
	void *file, *dentry, *vfsmnt;
	__u64 parent, hash_len;
	__u16 flags = 0;
	__u32 len;

	if (!mm)
		return;
	file = btf_ptr(mm, BA_OFF_MM_EXE_FILE);
	if (!file)
		return;
	dentry = btf_ptr(file, BA_OFF_FILE_F_PATH + BA_OFF_PATH_DENTRY);
	vfsmnt = btf_ptr(file, BA_OFF_FILE_F_PATH + BA_OFF_PATH_MNT);
	if (!dentry || !vfsmnt) {
		put_item(ev, a, BA_ITEM_EXE, BA_ITEM_FAULT, 0, 0);
		return;
	}
	len = cache_copy(ev, a->off, &st->exe, dentry, vfsmnt, root_d, &flags, &parent, &hash_len);
	if (!len) {
		len = put_dpath(ev, a->off, (__u64)dentry, (__u64)vfsmnt, root_d, root_mnt, &flags);
		cache_keep(ev, a->off, &st->exe, dentry, vfsmnt, root_d, parent, hash_len, len, flags);
	}
	put_item(ev, a, BA_ITEM_EXE, flags, len, 0);
}

/*
 * PROCTITLE: get_cmdline()'s first BA_PROCTITLE_MAX bytes, read at the
 * thread's first emitted event and kept for its life, as kernel audit keeps
 * it (user space trims it as audit_proctitle_rtrim() does).
 */
static __always_inline void put_proctitle(union ba_evbuf *ev, struct ba_asm *a, struct ba_stash *st, void *mm)
{
	if (!st->title_len) {
		__u64 start = 0, end = 0, len = 0;

		st->title_aux = 0;
		if (mm) {
			start = btf_u64(mm, BA_OFF_MM_ARG_START);
			end = btf_u64(mm, BA_OFF_MM_ARG_END);
		}
		if (start < end) {
			len = end - start;
			if (len > BA_PROCTITLE_MAX)
				len = BA_PROCTITLE_MAX;
			if (bpf_probe_read_user(st->title, len, (void *)start))
				len = 0;
			/* setproctitle() overwrote the NUL at arg_end: get_cmdline() stops at the first NUL */
			else if (len < BA_PROCTITLE_MAX && st->title[(len - 1) & (BA_PROCTITLE_MAX - 1)])
				st->title_aux = 1;
		}
		st->title_len = len + 1;
	}
	__u32 len = (st->title_len - 1) & (2 * BA_PROCTITLE_MAX - 1);

	if (len > BA_PROCTITLE_MAX)
		len = BA_PROCTITLE_MAX;
	__builtin_memcpy(&ev->buf[payload_at(a)], st->title, BA_PROCTITLE_MAX);
	put_item(ev, a, BA_ITEM_PROCTITLE, 0, len, st->title_aux);
}

/*
 * SOCKADDR: the address move_addr_to_kernel() took (connect, bind, sendto) or
 * move_addr_to_user() gave back on success (accept, getpeername, recvfrom);
 * kernel audit logs it only for a length in (0, sizeof(sockaddr_storage)].
 */
static __always_inline void put_sockaddr(union ba_evbuf *ev, struct ba_asm *a, struct ba_record *rec,
					 struct ba_syscall *sc, __s64 ret)
{
	__u32 ai = sc->sock_arg, li = sc->sock_len_arg;
	__s32 klen = 0;
	__u16 flags = 0;

	if (ai >= BA_NARGS || li >= BA_NARGS)
		return;
	__u64 addr = rec->args[ai], lenarg = rec->args[li];

	if (!addr)
		return;
	if (sc->sock_mode == BA_SOCK_IN) {
		klen = (__s32)lenarg;
		if (klen <= 0 || klen > BA_SOCKADDR_MAX)
			return;
	} else {
		if (ret < 0 || !lenarg || bpf_probe_read_user(&klen, sizeof(klen), (void *)lenarg) || klen <= 0)
			return;
		if (klen > BA_SOCKADDR_MAX)
			klen = BA_SOCKADDR_MAX;
	}
	__u32 n = (__u32)klen;

	asm volatile("" : "+r"(n));	/* keep the mask: the verifier needs it */
	n &= 2 * BA_SOCKADDR_MAX - 1;
	if (n > BA_SOCKADDR_MAX)
		n = BA_SOCKADDR_MAX;
	__u32 at = payload_at(a);

	if (bpf_probe_read_user(&ev->buf[at], n, (void *)addr)) {
		flags = BA_ITEM_FAULT;
		n = 0;
	}
	put_item(ev, a, BA_ITEM_SOCKADDR, flags, n, (__u32)klen);
	/* a unix socket's path is looked up as a name (unix_find_bsd(), unix_bind_bsd()): kernel
	 * audit then writes a PATH item for it, and CWD. Abstract names (sun_path[0] == 0) are not. */
	if (sc->sock_mode != BA_SOCK_IN || n < 3 || ev->buf[at] != 1 || ev->buf[at + 1] != 0 || !ev->buf[(at + 2) & BA_EV_MASK])
		return;
	__u32 size = n - 1;	/* sun_path's bytes (n - 2) and a NUL */
	long got = bpf_probe_read_kernel_str(&ev->buf[payload_at(a)], size & (2 * BA_SOCKADDR_MAX - 1),
					     &ev->buf[(at + 2) & BA_EV_MASK]);

	if (got <= 1)
		return;
	a->named = 1;
	put_item(ev, a, BA_ITEM_PATH, 0, got - 1, BA_PATH_SUN);
}

/* EXECVE: the new image's arguments (arg_start..arg_end), as much as the event has room for */
static __always_inline void put_execve(union ba_evbuf *ev, struct ba_asm *a, void *mm, __u32 argc)
{
	__u64 start, end, len;
	__u16 flags = 0;

	if (!mm)
		return;
	start = btf_u64(mm, BA_OFF_MM_ARG_START);
	end = btf_u64(mm, BA_OFF_MM_ARG_END);
	len = end > start ? end - start : 0;
	__u32 room = a->off + sizeof(struct ba_item) < BA_EVENT_MAX ?
		BA_EVENT_MAX - a->off - sizeof(struct ba_item) : 0;

	if (len > room) {
		len = room;
		flags = BA_ITEM_CUT;
	}
	asm volatile("" : "+r"(len));	/* keep the mask: the verifier needs it */
	len &= BA_EV_MASK;
	if (len && bpf_probe_read_user(&ev->buf[payload_at(a)], len, (void *)start)) {
		flags = BA_ITEM_FAULT;
		len = 0;
	}
	put_item(ev, a, BA_ITEM_EXECVE, flags, len, argc);
}

#endif /* BPFAUDIT_ITEMS_H */
