/* SPDX-License-Identifier: GPL-2.0 */
/* The working state of one rule evaluation (filter.h); kept in a per-CPU map, too big for the stack. */
#ifndef BPFAUDIT_EVAL_CTX_H
#define BPFAUDIT_EVAL_CTX_H

#include "record.h"
#include "rules.h"

/* the values rules compare; cred[] in struct cred's order */
struct ba_ids {
	__u32 pid;
	__u32 ppid;
	__u32 auid;
	__u32 ses;
	__u32 pers;
	__u32 arch;
	__u32 cred[8];	/* uid gid suid sgid euid egid fsuid fsgid */
};

/*
 * Where sys_exit is in assembling one event (items.h). In map memory: in
 * registers, each item present or absent would be its own verifier state, and
 * their combinations multiply; loaded from memory they all look alike.
 */
struct ba_asm {
	__u32 off;		/* next item's offset */
	__u16 n_items;
	__u16 cut;		/* some item has flags */
	__u16 named;		/* some name was read: kernel audit then writes CWD */
	__u16 names_done;	/* the PATH items are in (the first stage read them for path= rules) */
	__u32 pad;
};

struct eval_ctx {
	/* the identity read for this syscall; in map memory, not on the stack,
	 * so that paths which read different parts of it look alike to the verifier */
	struct ba_ids ids;
	__u64 regs[BA_REGS_WORDS];	/* the argument registers' span of pt_regs (regs.h) */
	__u64 args[BA_NARGS];		/* a0..a5 */
	__u32 have_args;		/* args[] read for this syscall */
	__u32 vals[BA_NR_SLOTS];	/* BA_SLOT_* */
	__u32 known;			/* bit per slot: value available */
	__u32 start;			/* first position in the candidate list to look at */
	__s32 result;			/* deciding rule; -1 none */
	__u32 pos;			/* its position in the candidate list */
	__u32 undecided;		/* sys_exit must resume at result */
	__u32 userspace;		/* result must be confirmed by user space */
	__u32 action;
	__u32 at_exit;
	/* per path slot, for path=/dir= prefix tests at exit (filter.h path_states) */
	__u32 path_cmp[2];	/* 1: an absolute name in normal form: compared */
	__u32 path_maybe[2];	/* 1: an absolute name with // or /. in it: user space decides */
	__u32 path_strlen[2];	/* bytes of each name (items.h put_names); 0: none */
	__u32 path_off[2];	/* where each name is in the event buffer */
	/* each name's first BA_PREFIX_LEN bytes, where every rule's prefix test reads them at fixed
	 * offsets (reading the event buffer at path_off costs each rule twice the instructions) */
	__u64 path_head[2][BA_PREFIX_LEN / 8];
	/* the object the call reached, when sys_exit can see it (objects.h call_object): a path=
	 * watch matches it by inode and device, as kernel audit's watches do */
	__u64 obj_ino;
	__u32 obj_dev;
	__u32 have_obj;
	struct ba_asm a;	/* the event being assembled at sys_exit */
};

#endif /* BPFAUDIT_EVAL_CTX_H */
