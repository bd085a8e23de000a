"""The cost per recorded call of a loop in a login session, every call recorded (S6 execs, S7 openats):
the configurations run interleaved and summarized, the CPU view beside the wall time, the targets.

A scenario is a Recorded (its rule, what a call is, whose records are the loop's), a job, and
its own title and notes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from tracer.bench import kstate
from tracer.bench.builds import Build, build_configs, builds_note
from tracer.bench.configs import Bare, Bpfaudit, EmptyProbes, KernelAudit, bpf_run_stats
from tracer.bench.quiet import QuietWaiter
from tracer.bench.runner import interleave, opened
from tracer.bench.s2 import DEFAULT_NAME, FLOOR_NAME, TRANSPORT_SHAPE, TUNED_BACKLOG, TUNED_NAME, summarize_both_kaudits
from tracer.bench.stats import ConfigResult, at_most, ratio, summarize

OURS = "bpfaudit"
BUILD_ROWS = "per-record consumer"  # what the --baseline-rev rows are called (every record decoded)


@dataclass(frozen=True)
class Recorded:
    """What one cost-per-recorded-call scenario measures."""

    scenario: str  # "S6": the report's key and the targets' scenario
    rule: str  # the one kernel audit rule, bpfaudit's too
    call: str  # what one workload call is, as targets name it: "exec", "openat"
    own: str  # the records' field holding the workload's pid: "pid" (its own calls), "ppid" (its children's)
    target: float  # bpfaudit's added cost per call at most this share of kernel audit's (tuned auditd)
    cpu_of: str  # whose CPU the workload reports: "the loop", "the loop and its children"


def run_recorded(spec: Recorded, job, reps: int, log: Callable[[str], None], quiet: Optional[QuietWaiter],
                 transport: str, builds: Sequence[Build], title: str, notes: Sequence[str]) -> Dict[str, object]:
    """Bare, kernel audit with the default and the tuned auditd, the empty raw-tracepoint pair,
    bpfaudit and the builds' rows, interleaved `reps` times over `job`, then a bpf_stats run of
    each configuration with programs. Returns the scenario's report: `notes[0]` (the rule and
    workload) first, then the configurations', then the rest of `notes`."""
    from tracer.kaudit.auditd import AuditdRun
    from tracer.rules import parse_text

    with kstate.one_rule_session(spec.rule) as before:
        configs = [
            Bare(),
            KernelAudit(DEFAULT_NAME, auditd=functools.partial(AuditdRun, tuned=False), count_field=spec.own),
            KernelAudit(TUNED_NAME, auditd=functools.partial(AuditdRun, tuned=True), backlog_limit=TUNED_BACKLOG,
                        count_field=spec.own),
            EmptyProbes(raw=True),
            Bpfaudit(OURS, parse_text(spec.rule), transport=transport, own=spec.own),
            *build_configs(builds, BUILD_ROWS, spec.rule, decode=True, own=spec.own, transport=transport),
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
    return {spec.scenario: {
        "title": title,
        "rows": [r.to_json() for r in rows],
        "notes": [notes[0],
                  f"default: Debian auditd.conf, backlog_limit as found ({before.backlog_limit}); "
                  f"tuned: flush=NONE, log_format=RAW, backlog_limit {TUNED_BACKLOG}",
                  f"{OURS}: capture session as `bpfaudit trace --transport {transport}` opens it "
                  f"({TRANSPORT_SHAPE[transport]}), every record decoded by poll() in the benchmark process",
                  *notes[1:], *builds_note(builds, "every record decoded by that build's poll()")],
    }}


def add_cpu_view(rows: List[ConfigResult]) -> None:
    """The same runs ranked by CPU per call (the workload's, from each run's JSON):
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


def recorded_targets(scenarios: Dict[str, Dict], spec: Recorded) -> list:
    """bpfaudit's added cost per call against the tuned kernel audit's (judged) and the default's
    (reported), its lost records, and the CPU view (reported)."""
    s = scenarios.get(spec.scenario)
    if not s:
        return []
    rows = {r["name"]: r for r in s["rows"]}
    ours, floor = rows[OURS], rows.get(FLOOR_NAME)
    lost = ours.get("lost_total")
    note = f"{lost:,} lost of {ours.get('records_total', 0) + (lost or 0):,} emitted" if lost is not None else ""

    def floor_share(kaudit: str) -> str:
        share = ratio(floor["added_ns"], rows[kaudit]["added_ns"]) if floor else None
        return "" if share is None else f"; the empty raw-tracepoint pair alone: {share:.4f}"

    name, per, target = spec.scenario, spec.call, spec.target
    return [
        at_most(name, f"bpfaudit added / tuned kernel audit added, per {per}", ratio(ours["added_ns"],
                rows[TUNED_NAME]["added_ns"]), target, note + floor_share(TUNED_NAME)),
        at_most(name, f"bpfaudit added / default kernel audit added, per {per} (reported; the target is tuned's)",
                ratio(ours["added_ns"], rows[DEFAULT_NAME]["added_ns"]), target, note + floor_share(DEFAULT_NAME)),
        at_most(name, "bpfaudit records lost", lost, 0, note),
        *([at_most(name, f"CPU per {per} of {spec.cpu_of}: bpfaudit added / tuned kernel audit added "
                   "(reported, not judged)", ours["cpu"]["added_vs_kaudit"], target,
                   f"default: {fmt(ours['cpu']['added_vs_kaudit_default'])}")] if ours.get("cpu") else []),
    ]


def fmt(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.3f}"
