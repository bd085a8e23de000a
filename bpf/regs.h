/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The syscall's arguments from its saved registers: raw tracepoints pass
 * only pt_regs. Offsets come from BTF (-DBA_OFF_PT_REGS_*); one read takes
 * the span holding every argument register (-DBA_REGS_LO, -DBA_REGS_WORDS).
 */
#ifndef BPFAUDIT_REGS_H
#define BPFAUDIT_REGS_H

#include "record.h"
#include "rules.h"
#include "eval_ctx.h"

#define BA_REG(c, off) ((c)->regs[((off) - BA_REGS_LO) / 8])

/* native or ia32 without a branch (each branch would be a verifier state) */
static __always_inline __u64 ba_pick(__u64 compat_mask, __u64 native, __u64 ia32)
{
	return native ^ ((native ^ ia32) & compat_mask);
}

#define BA_SLOTS_ARGS ((1u << BA_SLOT_ARG0) | (1u << BA_SLOT_ARG1) | (1u << BA_SLOT_ARG2) | \
		       (1u << BA_SLOT_ARG3))

/* c->args = a0..a5 of the current syscall, by the task's ABI */
static __always_inline void read_args(struct eval_ctx *c, void *regs, __u32 abi)
{
	__u64 m = 0 - (__u64)(abi == BA_ABI_COMPAT);

	bpf_probe_read_kernel(c->regs, sizeof(c->regs), regs + BA_REGS_LO);
	c->args[0] = ba_pick(m, BA_REG(c, BA_OFF_PT_REGS_DI), BA_REG(c, BA_OFF_PT_REGS_BX));
	c->args[1] = ba_pick(m, BA_REG(c, BA_OFF_PT_REGS_SI), BA_REG(c, BA_OFF_PT_REGS_CX));
	c->args[2] = BA_REG(c, BA_OFF_PT_REGS_DX);
	c->args[3] = ba_pick(m, BA_REG(c, BA_OFF_PT_REGS_R10), BA_REG(c, BA_OFF_PT_REGS_SI));
	c->args[4] = ba_pick(m, BA_REG(c, BA_OFF_PT_REGS_R8), BA_REG(c, BA_OFF_PT_REGS_DI));
	c->args[5] = ba_pick(m, BA_REG(c, BA_OFF_PT_REGS_R9), BA_REG(c, BA_OFF_PT_REGS_BP));
	c->have_args = 1;
}

#endif /* BPFAUDIT_REGS_H */
