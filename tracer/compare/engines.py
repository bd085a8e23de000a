"""Runs the workload's N runs under each engine: none (baseline), kernel
audit with auditd, and bpfaudit. Each returns a filled Cell."""

from __future__ import annotations

import os
from typing import Callable, List, Optional

from tracer.compare.cells import BASELINE, Cell
from tracer.compare.observe import audit_observations, bpf_observations
from tracer.compare.session import RunResult, run_login_session
from tracer.capture.ledger import KernelAuditCounters, LossLedger, counter_delta, ledger_update, read_kernel_audit

Progress = Optional[Callable[[str], None]]


def _say(progress: Progress, text: str) -> None:
    if progress is not None:
        progress(text)


def _runs(cmd: List[str], n: int, auid: int, label: str, progress: Progress,
          while_running: Optional[Callable[[], None]] = None) -> List[RunResult]:
    runs = []
    for i in range(n):
        _say(progress, f"{label}: run {i + 1}/{n}")
        runs.append(run_login_session(cmd, auid, while_running))
    return runs


def _exit_notes(runs: List[RunResult]) -> List[str]:
    codes = sorted({r.returncode for r in runs if r.returncode != 0})
    return [f"the command exited with {', '.join(map(str, codes))} in some runs"] if codes else []


def run_baseline(cmd: List[str], n: int, auid: int, progress: Progress = None) -> Cell:
    runs = _runs(cmd, n, auid, BASELINE, progress)
    return Cell(BASELINE, "", runs, notes=_exit_notes(runs))


def run_bpf(cmd: List[str], n: int, auid: int, rules_path: str, progress: Progress = None) -> Cell:
    """bpfaudit with the rule set, filtered to auid in BPF; records drained while CMD runs."""
    from tracer.capture.session import CaptureOptions, open_capture
    from tracer.rules import load_rules

    label = os.path.basename(rules_path)
    ruleset = load_rules([rules_path])
    events: list = []
    ledger = LossLedger(read_kernel_audit())
    _say(progress, f"bpf:{label}: loading BPF programs")
    with open_capture(CaptureOptions(rules=ruleset, auid=auid)) as cap:
        runs = _runs(cmd, n, auid, f"bpf:{label}", progress, lambda: events.extend(cap.poll(20)))
        cap.detach()  # then everything submitted is drained
        events.extend(cap.poll(0))
        ledger_update(ledger, cap)
    ledger.observe(events)
    sessions = {r.ses for r in runs}
    notes = _exit_notes(runs)
    rec = ledger.reconcile()
    notes += [f"ledger: {p}" for p in rec.problems]
    return Cell("bpf", label, runs, bpf_observations(events, auid, sessions), ledger.to_dict(), notes)


def _read_rule_lines(path: str) -> List[str]:
    if path.endswith(".gz"):
        import gzip

        with gzip.open(path, "rt") as f:
            return f.read().splitlines()
    with open(path) as f:
        return f.read().splitlines()


def run_audit(cmd: List[str], n: int, auid: int, rules_path: str, progress: Progress = None) -> Cell:
    """Kernel audit: the file's -a/-w lines loaded with auditctl, records consumed by auditd
    (started for the cell if not running) and read from its log; all kernel audit state
    (rules, enabled, backlog settings, audit pid, auditd) restored when the cell ends,
    however it ends."""
    from tracer.kaudit.auditd import AuditdRun
    from tracer.kaudit.netlink import audit_status
    from tracer.kaudit.state import load_rules as load_kernel_rules

    label = os.path.basename(rules_path)
    lines = _read_rule_lines(rules_path)
    notes: List[str] = []
    _say(progress, f"audit:{label}: starting auditd and loading rules")
    with AuditdRun() as run:
        loaded = load_kernel_rules(lines, only_rules=True, strict=False)
        notes += [f"auditctl refused line {e.lineno} `{e.line}`: {e.message}" for e in loaded.errors]
        first = audit_status()
        start = KernelAuditCounters.from_status(first)
        peak = [first.backlog]

        def sample_backlog() -> None:
            peak[0] = max(peak[0], audit_status().backlog)

        runs = _runs(cmd, n, auid, f"audit:{label}", progress, sample_backlog)
        last = audit_status()
        end = KernelAuditCounters.from_status(last)
        peak[0] = max(peak[0], last.backlog)
    if run.exit_code not in (None, 0):
        notes.append(f"auditd exited with {run.exit_code} during the run: its log may be short")
    lost = counter_delta(start.lost, end.lost)
    if lost:
        notes.append(f"kernel audit lost {lost} records during the runs (backlog_limit {first.backlog_limit})")
    losses = {
        "lost_delta": lost,
        "backlog_max": peak[0],
        "backlog_wait_time_actual_delta": counter_delta(start.backlog_wait_time_actual,
                                                         end.backlog_wait_time_actual),
        "backlog_limit": first.backlog_limit,
        "backlog_wait_time": first.backlog_wait_time,
        "rate_limit": first.rate_limit,
        "rules_loaded": len(loaded.loaded),
        "rules_skipped": len(loaded.skipped),
        "rules_refused": len(loaded.errors),
        "auditd": "started for the run" if run.started_pid else "already running",
    }
    sessions = {r.ses for r in runs}
    return Cell("audit", label, runs, audit_observations(run.events(), auid, sessions), losses,
                notes + _exit_notes(runs))
