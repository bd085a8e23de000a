"""Runs the chosen scenarios and assembles the report (the JSON the table is printed from)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from tracer.bench import machine
from tracer.bench.build_compare import builds_targets, compare_builds
from tracer.bench.builds import bpf_digest, extract_revision, worktree_build
from tracer.bench.quiet import QuietWaiter
from tracer.bench.s1 import run_s1, s1_targets
from tracer.bench.s2 import run_s2, s2_targets
from tracer.bench.s3 import run_s3, s3_targets
from tracer.bench.s4 import run_s4, s4_targets
from tracer.bench.s5 import run_s5, s5_targets
from tracer.bench.s6 import run_s6, s6_targets
from tracer.bench.s7 import run_s7, s7_targets
from tracer.bench.s8 import run_s8, s8_targets
from tracer.capture.session import DEFAULT_TRANSPORT
from tracer.errors import BpfauditError

SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8")
WITH_BUILDS = ("S1", "S2", "S6", "S7")  # the scenarios --baseline-rev measures its build in
BUILD = Path(__file__).resolve().parents[2] / "build"
SKIPPED: Dict[str, str] = {}


@dataclass
class Settings:
    workload: str
    scenarios: List[str]
    reps: int = 7
    seconds: float = 0.8  # per S1/S2 run
    s3_seconds: float = 2.0  # per S3 step
    s4_reps: int = 7  # as many rounds as the others: a make's wall time varies by a third between runs
    quiet_timeout: float = 20.0  # wait this long before a run for other syscall tracers to leave
    s5_seconds: float = 30.0  # per S5 configuration
    s5_rate: Optional[float] = None  # None: 3x the S3 ceiling (this run's, or a short search's)
    transport: str = DEFAULT_TRANSPORT  # CaptureOptions.transport of the bpfaudit configurations S2/S3/S5/S6/S7 judge
    exec_workload: str = str(BUILD / "exec_loop")  # S6's fork+exec loop
    exec_target: str = str(BUILD / "exec_true")  # what it executes
    # S6: an exec's cost moves by 5-10 % from one run to the next here, however long the run (a
    # run's placement, not averaging, sets it), so more and shorter rounds pair better
    exec_seconds: float = 1.0  # per S6 run: ~1,700 execs here
    exec_reps: int = 15
    open_workload: str = str(BUILD / "open_loop")  # S7's openat + close loop
    open_target: str = "/etc/hostname"  # the small file it opens
    # S7: as S6's (a recorded openat's cost is kernel audit's backlog and auditd's pace as much as the call's)
    open_seconds: float = 1.0  # per S7 run: ~390,000 openats bare here
    open_reps: int = 15
    s8_seconds: float = 3.0  # per S8 step: the issue-14 acceptance's 3 s at 1,000,000 calls/s
    baseline_rev: Optional[str] = None  # also measure this revision's build in WITH_BUILDS (and the worktree's alike)

    @classmethod
    def quick(cls, workload: str, scenarios: List[str]) -> "Settings":
        return cls(workload, scenarios, reps=3, seconds=0.5, s3_seconds=1.0, s4_reps=2, s5_seconds=5.0,
                   exec_seconds=0.5, exec_reps=5, open_seconds=0.5, open_reps=5, s8_seconds=1.0)


def parse_scenarios(text: str) -> List[str]:
    """'S1,s3' -> ['S1', 'S3']; unknown names are an error naming the known ones."""
    names = [n.strip().upper() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in SCENARIOS]
    if bad or not names:
        known = ", ".join(SCENARIOS)
        raise BpfauditError(f"unknown scenario {', '.join(bad) or '(none)'}: choose from {known}", 2)
    return [n for n in SCENARIOS if n in names]


def run_bench(settings: Settings, log: Callable[[str], None]) -> Dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bpfaudit-bench-build-") as tmp:
        return _run_bench(settings, log, tmp)


def _run_bench(settings: Settings, log: Callable[[str], None], tmp: str) -> Dict[str, object]:
    worktree = worktree_build()
    report: Dict[str, object] = {"machine": machine.describe(), "settings": asdict(settings),
                                 "build": worktree.to_json(), "scenarios": {}, "skipped": dict(SKIPPED)}
    scenarios: Dict[str, Dict] = report["scenarios"]  # type: ignore[assignment]
    builds = []
    if settings.baseline_rev:
        baseline = extract_revision(settings.baseline_rev, tmp)
        builds = [worktree, baseline]
        report["builds"] = {"baseline_rev": settings.baseline_rev, "builds": [b.to_json() for b in builds]}
        log(f"--baseline-rev {settings.baseline_rev}: {baseline.commit[:12]} beside the working tree in "
            + ", ".join(n for n in settings.scenarios if n in WITH_BUILDS))
    started = time.monotonic()
    quiet = QuietWaiter(settings.quiet_timeout, log)
    if "S1" in settings.scenarios:
        scenarios.update(run_s1(settings.workload, settings.reps, settings.seconds, log, quiet, builds))
    if "S2" in settings.scenarios:
        scenarios.update(run_s2(settings.workload, settings.reps, settings.seconds, log, quiet,
                                settings.transport, builds))
    if "S3" in settings.scenarios:
        scenarios.update(run_s3(settings.workload, settings.s3_seconds, log, quiet=quiet,
                                transport=settings.transport))
    if "S4" in settings.scenarios:
        scenarios.update(run_s4(settings.s4_reps, log, quiet))
    if "S5" in settings.scenarios:
        scenarios.update(run_s5(settings.workload, settings.s5_seconds, log, settings.s5_rate,
                                scenarios.get("S3-decode"), quiet=quiet, transport=settings.transport))
    if "S6" in settings.scenarios:
        scenarios.update(run_s6(settings.exec_workload, settings.exec_target, settings.exec_reps, settings.exec_seconds,
                                log, quiet, settings.transport, builds))
    if "S7" in settings.scenarios:
        scenarios.update(run_s7(settings.open_workload, settings.open_target, settings.open_reps, settings.open_seconds,
                                log, quiet, settings.transport, builds))
    if "S8" in settings.scenarios:
        scenarios.update(run_s8(settings.workload, settings.s8_seconds, log, quiet=quiet))
    targets = (s1_targets(scenarios) + s2_targets(scenarios) + s3_targets(scenarios) + s4_targets(scenarios)
               + s5_targets(scenarios) + s6_targets(scenarios) + s7_targets(scenarios) + s8_targets(scenarios))
    if builds:
        comparison = compare_builds(scenarios, builds[0].label, builds[1].label)
        report["builds"]["comparison"] = comparison  # type: ignore[index]
        targets += builds_targets(comparison)
    report["targets"] = [t.to_json() for t in targets]
    # others may edit bpf/ meanwhile: the digest again, to show whether every row compiled the same program
    report["build"]["bpf_sha256_after"] = bpf_digest(worktree.tree)  # type: ignore[index]
    report["machine"]["loadavg_after"] = machine.loadavg()  # type: ignore[index]
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    return report
