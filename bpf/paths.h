/* SPDX-License-Identifier: GPL-2.0 */
/* Copies the pathname arguments of a syscall into its record. */
#ifndef BPFAUDIT_PATHS_H
#define BPFAUDIT_PATHS_H

#include "record.h"
#include "rules.h"

static __always_inline void read_path(struct ba_record *rec, __u32 slot, __u8 arg)
{
	__u16 fault = slot ? BA_REC_PATH1_FAULT : BA_REC_PATH0_FAULT;
	__u16 trunc = slot ? BA_REC_PATH1_TRUNCATED : BA_REC_PATH0_TRUNCATED;
	long n;

	if (arg >= BA_NARGS)
		return;
	slot &= 1;
	n = bpf_probe_read_user_str(&rec->path[slot * BA_PATH_LEN], BA_PATH_LEN, (void *)rec->args[arg]);
	if (n <= 0) {
		/* not paged in yet at sys_enter: sys_exit tries again */
		rec->flags |= fault;
		rec->path_len[slot] = 0;
		rec->path[slot * BA_PATH_LEN] = 0;
	} else {
		rec->flags &= ~fault;
		rec->path_len[slot] = n;
		if (n == BA_PATH_LEN)
			rec->flags |= trunc;
	}
	if (rec->n_paths < slot + 1)
		rec->n_paths = slot + 1;
}

static __always_inline void read_paths(struct ba_record *rec, struct ba_syscall *sc)
{
	rec->n_paths = 0;
	rec->path_len[0] = rec->path_len[1] = 0;
	read_path(rec, 0, sc->path_arg[0]);
	read_path(rec, 1, sc->path_arg[1]);
}

static __always_inline void retry_faulted_paths(struct ba_record *rec, struct ba_syscall *sc)
{
	if (rec->flags & BA_REC_PATH0_FAULT)
		read_path(rec, 0, sc->path_arg[0]);
	if (rec->flags & BA_REC_PATH1_FAULT)
		read_path(rec, 1, sc->path_arg[1]);
}

#endif /* BPFAUDIT_PATHS_H */
