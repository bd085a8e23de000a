"""S6, the cost per recorded exec (issue 12): a fork+exec loop in a login session, every execve recorded.

Since issue 12 an exec's record carries what kernel audit's event does: the arguments and the
exec's own name (kept by a raw tracepoint on sched_process_exec for the exec's sys_exit), exe
and cwd by dentry walks, PROCTITLE. Kernel audit writes SYSCALL, EXECVE, CWD, two PATH and
PROCTITLE records for the same exec. Judged: bpfaudit's added cost per exec against kernel
audit's with the tuned auditd (at most half), reported against the default auditd too.
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, List, Optional, Sequence

from tracer.bench import kstate
from tracer.bench.builds import Build, build_configs, builds_note
from tracer.bench.configs import Bare, Bpfaudit, EmptyProbes, KernelAudit, bpf_run_stats
from tracer.bench.quiet import QuietWaiter
from tracer.bench.runner import interleave, opened
from tracer.bench.s2 import DEFAULT_NAME, FLOOR_NAME, TRANSPORT_SHAPE, TUNED_BACKLOG, TUNED_NAME, summarize_both_kaudits
from tracer.bench.stats import ConfigResult, at_most, ratio, summarize
from tracer.bench.workload import ExecJob
from tracer.capture.session import DEFAULT_TRANSPORT

OURS = "bpfaudit"
BUILD_ROWS = "per-record consumer"  # what the --baseline-rev rows are called here
TARGET = 0.5  # bpfaudit's added cost per exec at most half of kernel audit's (tuned auditd)


def run_s6(binary: str, target: str, reps: int, seconds: float, log: Callable[[str], None],
           quiet: Optional[QuietWaiter] = None, transport: str = DEFAULT_TRANSPORT,
           builds: Sequence[Build] = ()) -> Dict[str, object]:
    from tracer.kaudit.auditd import AuditdRun
    from tracer.kaudit.state import auditctl, kernel_audit_session
    from tracer.rules import parse_text

    job = ExecJob(binary, seconds, target, auid=1000)
    with kernel_audit_session() as before:
        auditctl("-D")
        kstate.set_enabled(0)
        kstate.add_rule(kstate.EXEC_RULE)
        kstate.fast_path(True)
        configs = [
            Bare(),
            KernelAudit(DEFAULT_NAME, auditd=functools.partial(AuditdRun, tuned=False), count_field="ppid"),
            KernelAudit(TUNED_NAME, auditd=functools.partial(AuditdRun, tuned=True), backlog_limit=TUNED_BACKLOG,
                        count_field="ppid"),
            EmptyProbes(raw=True),
            Bpfaudit(OURS, parse_text(kstate.EXEC_RULE), transport=transport, own="ppid"),
            *build_configs(builds, BUILD_ROWS, kstate.EXEC_RULE, decode=True, own="ppid", transport=transport),
        ]
        with opened(configs, log):
            results = interleave(configs, reps, job, log, quiet)
            for config in configs:
                if config.program_ids():
                    log(f"bpf_stats run: {config.name}")
                    results[config.name].extra["bpf_stats"] = bpf_run_stats(config, job)
    rows = summarize_both_kaudits(results)
    add_cpu_view(rows)
    for r in rows:
        if any("records" in run for run in r.extra["runs"]):
            r.extra["lost_total"] = sum(run["lost"] for run in r.extra["runs"])
            r.extra["records_total"] = sum(run["records"] for run in r.extra["runs"])
    return {"S6": {
        "title": "S6 cost per recorded exec, fork+exec+wait of a static `return 0` (wall ns per exec; "
                 "x kaudit = tuned)",
        "rows": [r.to_json() for r in rows],
        "notes": [f"rule: `{kstate.EXEC_RULE}`; workload `exec_loop SECONDS {target}`, auid 1000: fork, "
                  "execve, waitpid in a loop, every exec of the children recorded",
                  f"default: Debian auditd.conf, backlog_limit as found ({before.backlog_limit}); "
                  f"tuned: flush=NONE, log_format=RAW, backlog_limit {TUNED_BACKLOG}",
                  f"{OURS}: capture session as `bpfaudit trace --transport {transport}` opens it "
                  f"({TRANSPORT_SHAPE[transport]}), every record decoded by poll() in the benchmark process",
                  f"{FLOOR_NAME}: the empty pair on raw_syscalls only (no program on sched_process_exec)",
                  "S6 ranks by wall time per exec (fork + execve + wait): kernel audit's backlog waits and the "
                  "consumer's CPU are the cost; CPU per exec (the loop and its children) is in the JSON",
                  *builds_note(builds, "every record decoded by that build's poll()")],
    }}


def add_cpu_view(rows: List[ConfigResult]) -> None:
    """The same runs ranked by CPU per exec (the loop and its children, from each run's JSON):
    reported beside the judged wall time, as what the traced processes themselves paid; it
    leaves out time descheduled by other load, and kernel audit's backlog waits and the
    consumers' and auditd's CPU (other processes) with it."""
    cpu = [ConfigResult(r.name, [run["cpu_ns_per_call"] for run in r.extra["runs"]]) for r in rows]
    summarize(cpu, "bare", TUNED_NAME)
    by_name = {c.name: c for c in cpu}
    for r in rows:
        c = by_name[r.name]
        r.extra["cpu"] = {"median_ns": c.median_ns, "added_ns": c.added_ns, "added_vs_kaudit": c.added_vs_kaudit,
                          "added_vs_kaudit_default": ratio(c.added_ns, by_name[DEFAULT_NAME].added_ns)}


def s6_targets(scenarios: Dict[str, Dict]) -> list:
    s = scenarios.get("S6")
    if not s:
        return []
    rows = {r["name"]: r for r in s["rows"]}
    ours, floor = rows[OURS], rows.get(FLOOR_NAME)
    lost = ours.get("lost_total")
    note = f"{lost:,} lost of {ours.get('records_total', 0) + (lost or 0):,} emitted" if lost is not None else ""

    def floor_share(kaudit: str) -> str:
        share = ratio(floor["added_ns"], rows[kaudit]["added_ns"]) if floor else None
        return "" if share is None else f"; the empty raw-tracepoint pair alone: {share:.4f}"

    return [
        at_most("S6", "bpfaudit added / tuned kernel audit added, per exec", ratio(ours["added_ns"],
                rows[TUNED_NAME]["added_ns"]), TARGET, note + floor_share(TUNED_NAME)),
        at_most("S6", "bpfaudit added / default kernel audit added, per exec (reported; the target is tuned's)",
                ratio(ours["added_ns"], rows[DEFAULT_NAME]["added_ns"]), TARGET, note + floor_share(DEFAULT_NAME)),
        at_most("S6", "bpfaudit records lost", lost, 0, note),
        *([at_most("S6", "CPU per exec of the loop and its children: bpfaudit added / tuned kernel audit added "
                   "(reported, not judged)", ours["cpu"]["added_vs_kaudit"], TARGET,
                   f"default: {fmt(ours['cpu']['added_vs_kaudit_default'])}")] if ours.get("cpu") else []),
    ]


def fmt(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.3f}"
