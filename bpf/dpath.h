/* SPDX-License-Identifier: GPL-2.0 */
/*
 * d_path() in BPF: the name of a (dentry, vfsmount) pair relative to the
 * task's root, by a bounded walk up d_parent that crosses mounts at their
 * mountpoints, as the kernel's prepend_path() does. Raw tracepoints may not
 * call bpf_d_path(). Every offset is the running kernel's, from BTF
 * (-DBA_OFF_*); the dentry fields a step needs are one read (-DBA_DENTRY_LO,
 * -DBA_DENTRY_SPAN). Used for exe (mm->exe_file) and cwd (fs->pwd).
 */
#ifndef BPFAUDIT_DPATH_H
#define BPFAUDIT_DPATH_H

#include "maps.h"

/* components (and mount crossings) walked before a path is declared cut */
#ifndef BA_DPATH_DEPTH
#define BA_DPATH_DEPTH 64
#endif

static __always_inline __u64 kread_u64(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (void *)addr);
	return v;
}

/* one step up from w->dentry: prepends its name, or crosses to the mountpoint; 1: stop */
static __always_inline int dpath_step(struct ba_pathbuf *w, __u64 root_d, __u64 root_mnt)
{
	char d[BA_DENTRY_SPAN];
	__u64 dentry = w->dentry, vfsmnt = w->vfsmnt;

	if (dentry == root_d && vfsmnt == root_mnt) {
		w->done = 1;
		return 1;
	}
	if (bpf_probe_read_kernel(d, sizeof(d), (void *)dentry + BA_DENTRY_LO))
		return 1;
	__u64 parent = *(__u64 *)&d[BA_OFF_DENTRY_D_PARENT - BA_DENTRY_LO];

	if (dentry == w->mnt_root || dentry == parent) {
		/* a mount's root: continue at its mountpoint in the parent mount */
		__u64 mnt = vfsmnt - BA_OFF_MOUNT_MNT;
		__u64 up = kread_u64(mnt + BA_OFF_MOUNT_MNT_PARENT);

		if (!up || up == mnt) {	/* the namespace's root */
			w->done = 1;
			return 1;
		}
		w->dentry = kread_u64(mnt + BA_OFF_MOUNT_MNT_MOUNTPOINT);
		w->vfsmnt = up + BA_OFF_MOUNT_MNT;
		w->mnt_root = kread_u64(w->vfsmnt + BA_OFF_VFSMOUNT_MNT_ROOT);
		return 0;
	}
	__u32 len = *(__u32 *)&d[BA_OFF_DENTRY_D_NAME_LEN - BA_DENTRY_LO] & 255;	/* NAME_MAX */
	__u64 name = *(__u64 *)&d[BA_OFF_DENTRY_D_NAME_NAME - BA_DENTRY_LO];
	__u32 pos = w->pos;

	if (len + 1 > pos)
		return 1;
	pos -= len + 1;
	w->buf[pos & BA_NAME_MASK] = '/';
	bpf_probe_read_kernel(&w->buf[(pos + 1) & BA_NAME_MASK], len, (void *)name);
	w->pos = pos;
	w->dentry = parent;
	return 0;
}

/*
 * Writes the name of (dentry, vfsmnt) as the payload of the item at `off`
 * (NUL-less) and returns its length; BA_ITEM_CUT in *flags when the walk hit
 * BA_DPATH_DEPTH or BA_NAME_MAX bytes (the payload is then the name's tail).
 */
static __always_inline __u32 put_dpath(union ba_evbuf *ev, __u32 off, __u64 dentry, __u64 vfsmnt,
				       __u64 root_d, __u64 root_mnt, __u16 *flags)
{
	__u32 zero = 0, pos, n;
	struct ba_pathbuf *w = pathbuf.lookup(&zero);

	if (!w) {
		*flags |= BA_ITEM_FAULT;
		return 0;
	}
	w->dentry = dentry;
	w->vfsmnt = vfsmnt;
	w->mnt_root = kread_u64(vfsmnt + BA_OFF_VFSMOUNT_MNT_ROOT);
	w->pos = BA_NAME_MAX;
	w->done = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < BA_DPATH_DEPTH; i++) {
		if (dpath_step(w, root_d, root_mnt))
			break;
	}
	if (!w->done)
		*flags |= BA_ITEM_CUT;
	pos = w->pos;
	if (pos >= BA_NAME_MAX) {	/* the root itself */
		pos = BA_NAME_MAX - 1;
		w->buf[pos & BA_NAME_MASK] = '/';
	}
	n = BA_NAME_MAX - pos;
	asm volatile("" : "+r"(n));
	n &= 2 * BA_NAME_MAX - 1;
	if (n > BA_NAME_MAX)
		n = BA_NAME_MAX;
	bpf_probe_read_kernel(&ev->buf[(off + sizeof(struct ba_item)) & BA_EV_MASK], n,
			      &w->buf[pos & BA_NAME_MASK]);
	return n;
}

/*
 * The path `cache` kept from an earlier walk, when it still names (dentry,
 * vfsmnt) under root_d: copied to the item's payload, its length returned;
 * 0 when it does not (then *parent and *hash_len are what cache_keep() needs).
 * `dentry` must be a BTF pointer (btf_ptr() from the task's objects): the check
 * is two loads, no helper call, where a walk takes two per component.
 */
static __always_inline __u32 cache_copy(union ba_evbuf *ev, __u32 off, struct ba_pathcache *cache, void *dentry,
					void *vfsmnt, __u64 root_d, __u16 *flags, __u64 *parent, __u64 *hash_len)
{
	*parent = (__u64)btf_ptr(dentry, BA_OFF_DENTRY_D_PARENT);
	/* the name's hash and length as two 4-byte loads: older verifiers (6.1) refuse an 8-byte
	 * load of the union they share with hash_len, as beyond its first member */
	*hash_len = (__u64)btf_u32(dentry, BA_OFF_DENTRY_D_NAME_HASH) |
		    (__u64)btf_u32(dentry, BA_OFF_DENTRY_D_NAME_LEN) << 32;
	if (!cache->len || cache->dentry != (__u64)dentry || cache->vfsmnt != (__u64)vfsmnt ||
	    cache->parent != *parent || cache->hash_len != *hash_len || cache->root != root_d)
		return 0;
	__builtin_memcpy(&ev->buf[(off + sizeof(struct ba_item)) & BA_EV_MASK], cache->name, BA_PATHCACHE_LEN);
	*flags |= cache->flags;
	return cache->len & (2 * BA_PATHCACHE_LEN - 1);
}

/* keeps a walk's result (the item payload at `off`, `len` bytes) for cache_copy() */
static __always_inline void cache_keep(union ba_evbuf *ev, __u32 off, struct ba_pathcache *cache, void *dentry,
				       void *vfsmnt, __u64 root_d, __u64 parent, __u64 hash_len, __u32 len, __u16 flags)
{
	cache->len = 0;
	if (!len || len > BA_PATHCACHE_LEN || flags)
		return;
	__builtin_memcpy(cache->name, &ev->buf[(off + sizeof(struct ba_item)) & BA_EV_MASK], BA_PATHCACHE_LEN);
	cache->dentry = (__u64)dentry;
	cache->vfsmnt = (__u64)vfsmnt;
	cache->parent = parent;
	cache->hash_len = hash_len;
	cache->root = root_d;
	cache->flags = 0;
	cache->len = len;
}

#endif /* BPFAUDIT_DPATH_H */
