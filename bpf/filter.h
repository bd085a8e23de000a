/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Evaluates the compiled exit-list rules (rules.h) with the kernel's
 * semantics: rules in order, the first match decides, fields AND together,
 * every comparison on 32-bit values as audit_comparator().
 *
 * At sys_enter the exit-time fields (exit, success) are unknown: a rule that
 * needs them, or needs user space, stops the scan there and sys_exit resumes
 * from that rule with everything known.
 */
#ifndef BPFAUDIT_FILTER_H
#define BPFAUDIT_FILTER_H

#include "maps.h"
#include "task.h"
#include "eval_ctx.h"

#define BA_FIELD_CHUNK 4
_Static_assert(4 * BA_FIELD_CHUNK == BA_MAX_FIELDS, "eval_rule checks four chunks");

/* is_syscall_success(): an error is a return value in [-MAX_ERRNO, -1] */
static __always_inline int ba_success(__s64 ret)
{
	return !(ret < 0 && ret >= -4095);
}

/* the per-CPU evaluation state, reset for the candidate rules of one syscall */
static __always_inline struct eval_ctx *new_eval_ctx(struct ba_syscall *sc)
{
	__u32 zero = 0;
	struct eval_ctx *c = evalctx.lookup(&zero);

	if (!c)
		return NULL;
	c->known = 0;
	c->start = 0;
	c->result = -1;
	c->undecided = 0;
	c->userspace = 0;
	c->action = 0;
	c->at_exit = 0;
	return c;
}

/* the identity values every rule may compare */
static __always_inline void set_ids(struct eval_ctx *c, struct ba_ids *ids)
{
	c->vals[BA_SLOT_PID] = ids->pid;
	c->vals[BA_SLOT_PPID] = ids->ppid;
	c->vals[BA_SLOT_AUID] = ids->auid;
	c->vals[BA_SLOT_LOGINUID_SET] = ids->auid != 0xffffffff;
	c->vals[BA_SLOT_SES] = ids->ses;
	c->vals[BA_SLOT_PERS] = ids->pers;
	c->vals[BA_SLOT_ARCH] = ids->arch;
	c->vals[BA_SLOT_UID] = ids->cred[0];
	c->vals[BA_SLOT_GID] = ids->cred[1];
	c->vals[BA_SLOT_SUID] = ids->cred[2];
	c->vals[BA_SLOT_SGID] = ids->cred[3];
	c->vals[BA_SLOT_EUID] = ids->cred[4];
	c->vals[BA_SLOT_EGID] = ids->cred[5];
	c->vals[BA_SLOT_FSUID] = ids->cred[6];
	c->vals[BA_SLOT_FSGID] = ids->cred[7];
	c->known = (1u << BA_SLOT_EXIT) - 1;	/* all but exit and success */
}

/* a0..a3 compare truncated to 32 bits, as the kernel's u32 f->val */
static __always_inline void set_args(struct eval_ctx *c, __u64 *args)
{
	c->vals[BA_SLOT_ARG0] = args[0];
	c->vals[BA_SLOT_ARG1] = args[1];
	c->vals[BA_SLOT_ARG2] = args[2];
	c->vals[BA_SLOT_ARG3] = args[3];
}

static __always_inline void set_exit(struct eval_ctx *c, __s64 ret)
{
	c->vals[BA_SLOT_EXIT] = (__u32)ret;
	c->vals[BA_SLOT_SUCCESS] = ba_success(ret) ? 1 : 2;
	c->known |= (1u << BA_SLOT_EXIT) | (1u << BA_SLOT_SUCCESS);
	c->at_exit = 1;
}

/*
 * 1: stop the scan (decided, or no more rules), 0: next rule.
 * The field checks are branch-free (the verifier would otherwise queue a
 * state per comparison, rules x fields of them): unused entries of fields[]
 * are all-zero, which reads as "(v & 0) in [0, 0]", always true.
 */
/* Fields [from, from + BA_FIELD_CHUNK) of a rule into *fail and *unknown. */
static __always_inline void eval_fields(struct ba_rule *r, struct eval_ctx *c, int from,
					__u32 *fail, __u32 *unknown)
{
#pragma unroll
	for (int i = from; i < from + BA_FIELD_CHUNK; i++) {
		struct ba_field *f = &r->fields[i];
		__u32 slot = f->slot & (BA_NR_SLOTS - 1);
		__u32 known = (c->known >> slot) & 1;
		__u32 v = c->vals[slot] & f->mask;
		/* (v - lo) <= (hi - lo) as unsigned 32-bit, via the sign of a 64-bit difference */
		__u64 d = (__u64)(__u32)(f->hi - f->lo) - (__u64)(__u32)(v - f->lo);
		/* opaque to LLVM: it would turn the sign test below back into a
		 * branch, and older verifiers keep both sides of each: 2^fields states */
		asm volatile("" : "+r"(d));
		__u32 match = (__u32)(1 ^ (d >> 63)) ^ f->negate;

		*fail |= known & (match ^ 1);
		*unknown |= known ^ 1;
	}
}

#define BA_BYTES(b) (0x0101010101010101ULL * (b))

/* 1 if v != 0, without a branch */
static __always_inline __u64 nonzero(__u64 v)
{
	return (v | (0 - v)) >> 63;
}

/* names longer than this are left to user space's path=/dir= test */
#define BA_PATH_SCAN 256

/*
 * What the path=/dir= test can tell of a path slot (user space's _path_match
 * in tracer/rules/evaluate.py is the reference): an empty or relative name
 * matches no rule; an absolute one without "//" or "/." is its own normal
 * form but for a trailing "/", so it can match only a name it starts with;
 * any other absolute name, or one longer than BA_PATH_SCAN, is left to user space.
 */
static __always_inline void path_state(struct eval_ctx *c, union ba_evbuf *ev, __u32 slot)
{
	__u32 len = c->path_strlen[slot & 1];
	__u32 at = c->path_off[slot & 1];
	__u64 bad = 0;

	c->path_cmp[slot] = 0;
	c->path_maybe[slot] = 0;
	if (!len || ev->buf[at & BA_EV_MASK] != '/')
		return;
#pragma unroll
	for (int k = 0; k < BA_PREFIX_LEN / 8; k++)
		c->path_head[slot & 1][k] = *(__u64 *)&ev->buf[(at + k * 8) & BA_EV_MASK];
	if (len >= BA_PATH_SCAN) {
		c->path_maybe[slot] = 1;
		return;
	}
#pragma clang loop unroll(disable)
	for (__u32 k = 0; k < BA_PATH_SCAN / 8; k++) {
		if (k * 8 >= len)
			break;
		__u64 x = *(__u64 *)&ev->buf[(at + k * 8) & BA_EV_MASK];
		__u64 next = *(__u64 *)&ev->buf[(at + k * 8 + 8) & BA_EV_MASK];
		__u64 y = (x >> 8) | (next << 56);	/* each byte's successor */
		/* a byte of z is 0 where x holds '/' and its successor '/' or '.' */
		__u64 z = (x ^ BA_BYTES('/')) | ((y | BA_BYTES(1)) ^ BA_BYTES('/'));
		__u32 rest = len - k * 8;

		if (rest < 8)	/* bytes past the name: never 0 */
			z |= BA_BYTES(1) & ~((1ULL << (rest * 8)) - 1);
		bad |= (z - BA_BYTES(1)) & ~z & BA_BYTES(0x80);
	}
	if (bad)
		c->path_maybe[slot] = 1;
	else
		c->path_cmp[slot] = 1;
}

/* 1 if slot's name starts with the rule's prefix; branch-free, like the fields */
static __always_inline __u64 path_starts_with(struct ba_rule *r, struct eval_ctx *c, __u32 slot)
{
	/* shorter than the prefix: a difference however the bytes compare */
	__u64 diff = ((__u64)c->path_strlen[slot] - (__u64)r->prefix_len) >> 63;

#pragma unroll
	for (int k = 0; k < BA_PREFIX_LEN / 8; k++)
		diff |= (c->path_head[slot][k] ^ r->prefix[k]) & r->prefix_mask[k];
	asm volatile("" : "+r"(diff));
	return 1 ^ nonzero(diff);
}

/* 1 when no path of the syscall can satisfy the rule's path=/dir= name */
static __always_inline __u32 path_excludes(struct ba_rule *r, struct eval_ctx *c)
{
	__u64 may = c->path_maybe[0] | c->path_maybe[1] |
		    (c->path_cmp[0] & path_starts_with(r, c, 0)) |
		    (c->path_cmp[1] & path_starts_with(r, c, 1)) |
		    (c->have_obj & r->watch_set & (c->obj_ino == r->watch_ino) & (c->obj_dev == r->watch_dev));

	asm volatile("" : "+r"(may));
	return (__u32)(1 ^ (may & 1));
}

/*
 * Fields are checked in chunks of BA_FIELD_CHUNK, a chunk only when the rule
 * has fields there (most rules have 3 or 4): one branch per chunk, not per field.
 */
static __always_inline int eval_rule(__u32 idx, struct eval_ctx *c, union ba_evbuf *ev)
{
	__u32 fail = 0, unknown = 0;
	struct ba_rule *r = rules.lookup(&idx);
	if (!r)
		return 1;
	__u32 n = r->nfields;

	eval_fields(r, c, 0, &fail, &unknown);
	if (n > BA_FIELD_CHUNK) {
		eval_fields(r, c, BA_FIELD_CHUNK, &fail, &unknown);
		if (n > 2 * BA_FIELD_CHUNK) {
			eval_fields(r, c, 2 * BA_FIELD_CHUNK, &fail, &unknown);
			if (n > 3 * BA_FIELD_CHUNK)
				eval_fields(r, c, 3 * BA_FIELD_CHUNK, &fail, &unknown);
		}
	}
	/* at exit (ev set) the names are known: a path=/dir= rule none of them
	 * can satisfy fails here instead of in user space */
	if (ev && r->prefix_len)
		fail |= path_excludes(r, c);
	if (fail)
		return 0;
	c->result = idx;
	c->action = r->action;
	if (!c->at_exit && (unknown || (r->flags & BA_RULE_USERSPACE)))
		c->undecided = 1;
	else if (r->flags & BA_RULE_USERSPACE)
		c->userspace = 1;
	return 1;
}

/*
 * Scans the syscall's candidate rules from position c->start; sets
 * c->result and c->pos. `ev`: the event at sys_exit (its names
 * prepared by path_states()), NULL at sys_enter. A bounded loop rather than bpf_loop(): bcc 0.26
 * cannot relocate bpf_loop callbacks.
 */
static __always_inline void eval_rules(struct eval_ctx *c, struct ba_syscall *sc, union ba_evbuf *ev)
{
	c->result = -1;
	c->undecided = 0;
	c->userspace = 0;
	__u32 start = c->start, n = sc->nrules;
#pragma clang loop unroll(disable)
	for (__u32 k = 0; k < BA_MAX_CANDIDATES; k++) {
		__u32 i = start + k;
		if (i >= n)
			break;
		/* n <= BA_MAX_CANDIDATES: the mask only tells the verifier so */
		asm volatile("" : "+r"(i));
		i &= BA_MAX_CANDIDATES - 1;
		c->pos = i;
		if (eval_rule(sc->rule[i], c, ev))
			break;
	}
}

/* the path slots' states for path_excludes(), once per record at sys_exit */
static __always_inline void path_states(struct eval_ctx *c, union ba_evbuf *ev)
{
	path_state(c, ev, 0);
	path_state(c, ev, 1);
}

#endif /* BPFAUDIT_FILTER_H */
