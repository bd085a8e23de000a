/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bpfaudit: kernel-audit-style syscall records from the sys_enter/sys_exit
 * raw tracepoints (raw_syscalls; raw: no per-event argument copy, the
 * cheaper of the two by scripts/bench's probes). sys_enter filters and
 * stashes what sys_exit needs; sys_exit finishes the rule decision,
 * assembles the whole audit event (record.h: the SYSCALL fields and every
 * item) and submits it as one sample. sched_process_exec (exec.h) keeps an
 * exec's own name and argc for its sys_exit.
 */
#include "record.h"
#include "rules.h"
#include "maps.h"
#include "task.h"
#include "filter.h"
#include "items.h"
#include "objects.h"
#include "exec.h"
#include "regs.h"

static __always_inline struct ba_syscall *syscall_entry(__u32 abi, long id)
{
	__u32 key = id < BA_NR_SYSCALLS - 1 ? (__u32)id : BA_NR_SYSCALLS - 1;

	key += abi * BA_NR_SYSCALLS;
	return syscalls.lookup(&key);
}

/* --comm: both names NUL-padded to 16 bytes (task.h fill_identity), so two word compares */
static __always_inline int comm_matches(struct ba_config *cfg, void *task)
{
	return !((btf_u64(task, BA_OFF_TASK_COMM) ^ *(__u64 *)&cfg->comm[0]) |
		 (btf_u64(task, BA_OFF_TASK_COMM + 8) ^ *(__u64 *)&cfg->comm[8]));
}

/* The tracer's own identity as the programs read it, for the start-up check. */
static __always_inline void selfcheck_fill(struct ba_config *cfg)
{
	__u32 zero = 0;
	struct ba_record *rec = selfcheck.lookup(&zero);
	void *task = current_task();
	struct ba_ids ids = {};

	if (!rec)
		return;
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	read_ids(task, task_abi(task), &ids, BA_SLOTS_ALL, pid_tgid);
	fill_identity(task, &ids, rec, pid_tgid);
	rec->arch = ids.arch;
	rec->seq = 1;
	cfg->selfcheck = 0;
}

/* ctx->args: (struct pt_regs *regs, long id) */
RAW_TRACEPOINT_PROBE(sys_enter)
{
	__u32 zero = 0;
	struct ba_config *cfg = config.lookup(&zero);
	struct ba_syscall *sc;
	struct ba_stash *st;
	struct ba_record *rec;
	long id = ctx->args[1];

	if (!cfg || id < 0)
		return 0;
	/* pre-filter: a number no rule of any ABI lists costs two array reads,
	 * no helper call (the native entry carries the any-ABI flag) */
	sc = syscall_entry(BA_ABI_NATIVE, id);
	if (!sc || (!(sc->flags & BA_SC_LISTED) && !cfg->selfcheck))
		return 0;
	/* and one load more for a task whose auid no candidate rule accepts (the
	 * stock rules' "auid>=1000 auid!=unset" against every daemon) */
	void *task = current_task();

	if (btf_u32(task, BA_OFF_TASK_LOGINUID) - sc->auid_lo > sc->auid_hi - sc->auid_lo && !cfg->selfcheck)
		return 0;

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;

	/* the tracer's own syscalls first: tracing them would feed back */
	if (tgid == cfg->self_tgid) {
		if (cfg->selfcheck)
			selfcheck_fill(cfg);
		return 0;
	}
	__u32 abi = task_abi(task);
	if (abi != BA_ABI_NATIVE)	/* the native entry is the one read above */
		sc = syscall_entry(abi, id);
	if (!sc || !sc->nrules)
		return 0;
	count(BA_CNT_ENTER_CANDIDATES);
	if (cfg->target_tgid && cfg->target_tgid != tgid)
		return 0;
	if (cfg->comm_filter && !comm_matches(cfg, task))
		return 0;

	struct eval_ctx *c = new_eval_ctx(sc);
	if (!c)
		return 0;
	void *regs = (void *)ctx->args[0];

	c->have_args = 0;
	if (sc->flags & BA_SC_CHANGES_CREDS) {
		/* identity may change during the call: the kernel judges it at exit */
		c->pos = 0;
		c->undecided = 1;
	} else {
		/* arguments now only if a candidate rule compares them (a call
		 * the rules reject then costs no register read); slots no rule
		 * uses may hold stale values */
		if (sc->slots & BA_SLOTS_ARGS)
			read_args(c, regs, abi);
		read_ids(task, abi, &c->ids, sc->slots, pid_tgid);
		set_ids(c, &c->ids);
		set_args(c, c->args);
		eval_rules(c, sc, NULL);
		if (c->result < 0)
			return 0;
		if (!c->undecided && c->action == BA_ACT_NEVER)
			return 0;
	}

	st = stash.task_storage_get(task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		count(BA_CNT_STASH_FULL);
		return 0;
	}
	rec = &st->rec;
	if (!c->have_args)
		read_args(c, regs, abi);
	rec->enter_ns = bpf_ktime_get_ns();
	rec->syscall = id;
	rec->abi = abi;
	rec->arch = abi == BA_ABI_COMPAT ? BA_AUDIT_ARCH_I386 : BA_AUDIT_ARCH_X86_64;
	/* undecided: where sys_exit resumes in the candidate list; else the rule */
	rec->rule = c->undecided ? c->pos : c->result;
	rec->flags = BA_REC_PENDING | (c->undecided ? 0 : BA_REC_DECIDED);
	rec->args[0] = c->args[0];
	rec->args[1] = c->args[1];
	rec->args[2] = c->args[2];
	rec->args[3] = c->args[3];
	rec->args[4] = c->args[4];
	rec->args[5] = c->args[5];
	if (sc->path_arg[0] < BA_NARGS || sc->sock_mode == BA_SOCK_IN)
		stash_pwd(st, task);
	if (sc->flags & BA_SC_EXEC)
		stash_old_caps(st, task);
#ifdef BA_HOOKS
	st->n_objs = st->objs_cut = 0;
#endif
	__u32 bucket = inflight_bucket(regs);
	__u32 *pending = inflight.lookup(&bucket);
	if (pending)
		__sync_fetch_and_add(pending, 1);
	count(BA_CNT_ENTER_STASHED);
	return 0;
}

/* the syscall is no longer in flight (every path out of sys_exit ends here) */
static __always_inline int finish(struct ba_record *rec, __u32 *pending)
{
	rec->flags &= ~(BA_REC_PENDING | BA_REC_USERSPACE_CHECK);
	__sync_fetch_and_add(pending, -1);
	return 0;
}

/*
 * sys_exit, first stage: the rule decision and the identity. A call it
 * records is numbered here; the later stages (tail calls: the verifier walks
 * each as a program of its own, which keeps all far from its limits) assemble
 * the items and submit the event.
 * ctx->args: (struct pt_regs *regs, long ret)
 */
RAW_TRACEPOINT_PROBE(sys_exit)
{
	__u32 zero = 0, bucket = inflight_bucket((void *)ctx->args[0]);
	__u32 *pending = inflight.lookup(&bucket);

	if (!pending || !*pending)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	void *task = current_task();
	struct ba_stash *st = stash.task_storage_get(task, 0, 0);
	struct ba_record *rec;
	struct ba_config *cfg;
	struct ba_syscall *sc;
	union ba_evbuf *ev;
	struct ba_asm *a;
	__u64 *seq;
	long ret;

	if (!st || !(st->rec.flags & BA_REC_PENDING))
		return 0;
	rec = &st->rec;
	cfg = config.lookup(&zero);
	sc = syscall_entry(rec->abi & 1, rec->syscall);
	ev = event_buffer();
	if (!cfg || !sc || !ev)
		return finish(rec, pending);
	ret = ctx->args[1];
	rec->exit = ret;
	rec->exit_ns = bpf_ktime_get_ns();

	/* identity as the kernel reports it: at exit */
	struct eval_ctx *c = new_eval_ctx(sc);

	if (!c)
		return finish(rec, pending);
	struct ba_ids *ids = &c->ids;
	read_ids(task, rec->abi & 1, ids, BA_SLOTS_ALL, pid_tgid);
	a = &c->a;
	a->off = BA_RECORD_HDR_SIZE;
	a->n_items = a->cut = 0;
	a->named = a->names_done = 0;

	if (!(rec->flags & BA_REC_DECIDED)) {
		set_ids(c, ids);
		set_args(c, rec->args);
		set_exit(c, ret);
		c->start = rec->rule;
		if (sc->flags & BA_SC_PATH_RULES) {
			/* the names first, and the object: the path=/dir= test looks at them */
			struct ba_exec *x = exec_entry(sc, ret, pid_tgid);

			put_names(ev, a, rec, sc, c, x);
			a->names_done = 1;
			path_states(c, ev);
			call_object(c, st, sc, task, ret, x);
		}
		eval_rules(c, sc, ev);	/* no candidate has a path= name without BA_SC_PATH_RULES */
		if (c->result < 0)
			return finish(rec, pending);
		if (c->userspace)
			rec->flags |= BA_REC_USERSPACE_CHECK;
		else if (c->action == BA_ACT_NEVER)
			return finish(rec, pending);
		rec->rule = c->result;
	}
	if (cfg->failed_only && ba_success(ret))
		return finish(rec, pending);
	if (cfg->auid_filter_on && ids->auid != cfg->auid_filter)
		return finish(rec, pending);

	fill_identity(task, ids, rec, pid_tgid);

	/* the per-CPU count of emitted records is the record's sequence number: from
	 * here on the event is either submitted or counted as a failed submission */
	__u32 idx = BA_CNT_EMITTED;
	seq = counters.lookup(&idx);
	if (!seq)
		return finish(rec, pending);
	rec->seq = *seq;
	(*seq)++;
	/* a call without names, address or exec (getppid, write...) has no item of the next stage */
	exit_stages.call(ctx, sc->path_arg[0] < BA_NARGS || sc->sock_mode || (sc->flags & BA_SC_EXEC) ?
			      BA_STAGE_ITEMS : BA_STAGE_SUBMIT);
	/* reached only when the tail call could not be made */
	count(BA_CNT_SUBMIT_FAILED);
	return finish(rec, pending);
}

/* what every later stage of sys_exit starts from: the thread's stash and the event being assembled */
struct ba_stage {
	__u32 *pending;
	struct ba_stash *st;
	struct ba_syscall *sc;
	union ba_evbuf *ev;
	struct eval_ctx *c;
};

static __always_inline int stage_enter(struct bpf_raw_tracepoint_args *ctx, struct ba_stage *s)
{
	__u32 zero = 0, bucket = inflight_bucket((void *)ctx->args[0]);

	s->pending = inflight.lookup(&bucket);
	s->st = stash.task_storage_get(current_task(), 0, 0);
	if (!s->pending || !s->st)
		return -1;
	s->sc = syscall_entry(s->st->rec.abi & 1, s->st->rec.syscall);
	s->ev = event_buffer();
	s->c = evalctx.lookup(&zero);
	if (!s->sc || !s->ev || !s->c) {
		count(BA_CNT_SUBMIT_FAILED);	/* numbered by the first stage */
		finish(&s->st->rec, s->pending);
		return -1;
	}
	return 0;
}

/*
 * sys_exit, second stage (tail call, same context): the items from the call's
 * arguments and the exec (PATH, EXECVE, SOCKADDR) and CWD. Each stage with a
 * dentry walk is a program of its own: the verifier then walks each once.
 */
int ba_tail_sys_exit_items(struct bpf_raw_tracepoint_args *ctx)
{
	struct ba_stage s;
	long ret = ctx->args[1];
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	void *task = current_task();

	if (stage_enter(ctx, &s))
		return 0;
	struct ba_record *rec = &s.st->rec;
	struct ba_asm *a = &s.c->a;
	struct ba_exec *x = exec_entry(s.sc, ret, pid_tgid);

	/* the items, in kernel audit's record order (user space keeps it) */
	if (!a->names_done && s.sc->path_arg[0] < BA_NARGS)
		put_names(s.ev, a, rec, s.sc, s.c, x);
	put_objects(s.ev, a, s.st, s.sc, task, ret, x);
	if (x) {
		__u32 tid = (__u32)pid_tgid;

		put_execve(s.ev, a, btf_ptr(task, BA_OFF_TASK_MM), x->argc);
	}
	if (s.sc->sock_mode)
		put_sockaddr(s.ev, a, rec, s.sc, ret);
	if (a->named) {
		__u64 root_d, root_mnt;

		task_root(task, &root_d, &root_mnt);
		put_cwd(s.ev, a, s.st, task, root_d, root_mnt);
	}
	if (x) {
		__u32 tid = (__u32)pid_tgid;

		execs.delete(&tid);
	}
	exit_stages.call(ctx, BA_STAGE_SUBMIT);
	count(BA_CNT_SUBMIT_FAILED);	/* the tail call could not be made */
	return finish(rec, s.pending);
}

/* sys_exit, last stage: EXE and PROCTITLE, then the event is submitted */
int ba_tail_sys_exit_submit(struct bpf_raw_tracepoint_args *ctx)
{
	struct ba_stage s;
	void *task = current_task();
	void *mm = btf_ptr(task, BA_OFF_TASK_MM);
	__u64 root_d, root_mnt;

	if (stage_enter(ctx, &s))
		return 0;
	struct ba_record *rec = &s.st->rec;
	struct ba_asm *a = &s.c->a;
	union ba_evbuf *ev = s.ev;

	task_root(task, &root_d, &root_mnt);
	put_exe(ev, a, s.st, mm, root_d, root_mnt);
	put_proctitle(ev, a, s.st, mm);
	if (a->cut) {
		rec->flags |= BA_REC_CUT;
		count(BA_CNT_CUT);
	}
	__u32 size = a->off;

	if (size > BA_EVENT_MAX)
		size = BA_EVENT_MAX;
	/* the verifier loses the clamp above in the compiled code: bound it again */
	asm volatile("" : "+r"(size));
	size &= 2 * BA_EVENT_MAX - 1;
	rec->size = size;
	rec->n_items = a->n_items;
	rec->version = BA_SCHEMA_VERSION;
	ev->hdr = *rec;
	rec->flags &= ~(BA_REC_CUT | BA_REC_OBJS_CUT);
#ifdef BA_RINGBUF
	/* no wake-up but every BA_RINGBUF_WAKEUP-th record of a CPU (a power of
	 * two; 0: never): the consumer drains on its timer */
	__u64 wake = BPF_RB_NO_WAKEUP;

	if (BA_RINGBUF_WAKEUP && (rec->seq & (BA_RINGBUF_WAKEUP - 1)) == BA_RINGBUF_WAKEUP - 1)
		wake = BPF_RB_FORCE_WAKEUP;
	int err = events.ringbuf_output(ev, size, wake);
#else
	int err = events.perf_submit(ctx, ev, size);
#endif
	if (err)
		count(BA_CNT_SUBMIT_FAILED);
	return finish(rec, s.pending);
}
