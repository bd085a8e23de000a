"""Validates a comparison's options and runs its cells in order: the baseline,
then per rule set each engine."""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
from typing import Callable, List, Optional, Sequence

from tracer.compare.cells import ENGINES, Cell
from tracer.compare.engines import run_audit, run_baseline, run_bpf
from tracer.compare.report import build_report
from tracer.errors import BpfauditError

AUID_UNSET = 4294967295


@dataclasses.dataclass
class CompareOptions:
    rules: List[str]
    command: List[str]
    engines: Sequence[str] = ENGINES
    runs: int = 3
    auid: int = 1000


def parse_engines(text: str) -> List[str]:
    engines = [e.strip() for e in text.split(",") if e.strip()]
    bad = [e for e in engines if e not in ENGINES]
    if bad or not engines:
        raise BpfauditError(f"--engine {text}: use audit, bpf or audit,bpf")
    return list(dict.fromkeys(engines))


def validate(options: CompareOptions) -> None:
    """Bad input: one line naming it and the fix (exit 2), before anything is touched."""
    if not options.command:
        raise BpfauditError("no command to compare: give it after --, e.g. bpfaudit compare -R r.rules -- ls /")
    if shutil.which(options.command[0]) is None:
        raise BpfauditError(f"{options.command[0]}: command not found (give a path or a name on PATH)")
    if not options.rules:
        raise BpfauditError("no rule set: give -R RULES (a file in auditctl -R syntax); repeat for a second set")
    for path in options.rules:
        if not os.path.isfile(path):
            raise BpfauditError(f"-R {path}: no such rules file")
    if options.runs < 1:
        raise BpfauditError(f"--runs {options.runs}: give at least 1")
    if not 0 <= options.auid < AUID_UNSET:
        raise BpfauditError(f"--auid {options.auid}: give a login uid between 0 and {AUID_UNSET - 1}")
    # parse the rule sets now: a bad rule is an input error, not a failure half-way
    from tracer.rules import load_rules

    for path in options.rules:
        if not load_rules([path]).kernel_rules():
            raise BpfauditError(f"-R {path}: no syscall (-a ...,exit) rules in it: nothing to compare "
                                "(files like 10-base-config.rules only configure audit)")
    if os.geteuid() != 0:
        raise BpfauditError("compare loads BPF programs and kernel audit rules: run it as root (sudo)")


def machine_info() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "cpu_model": model,
            "python": platform.python_version()}


def run_cells(options: CompareOptions, progress: Optional[Callable[[str], None]] = None) -> List[Cell]:
    cmd, n, auid = list(options.command), options.runs, options.auid
    cells = [run_baseline(cmd, n, auid, progress)]
    for path in options.rules:
        for engine in options.engines:
            runner = run_audit if engine == "audit" else run_bpf
            cells.append(runner(cmd, n, auid, str(path), progress))
    return cells


def run_compare(options: CompareOptions, progress: Optional[Callable[[str], None]] = None) -> dict:
    """Validates, runs every cell and returns the report (build_report's dict)."""
    validate(options)
    cells = run_cells(options, progress)
    return build_report(cells, options.command, options.runs, options.auid, machine_info())
