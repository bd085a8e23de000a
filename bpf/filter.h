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

/*
 * Fields are checked in chunks of BA_FIELD_CHUNK, a chunk only when the rule
 * has fields there (most rules have 3 or 4): one branch per chunk, not per field.
 */
static __always_inline int eval_rule(__u32 idx, struct eval_ctx *c)
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
 * c->result and c->pos. A bounded loop rather than bpf_loop(): bcc 0.26
 * cannot relocate bpf_loop callbacks.
 */
static __always_inline void eval_rules(struct eval_ctx *c, struct ba_syscall *sc)
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
		if (eval_rule(sc->rule[i], c))
			break;
	}
}

#endif /* BPFAUDIT_FILTER_H */
