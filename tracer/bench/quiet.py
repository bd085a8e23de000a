"""Other tracers on the syscall tracepoints: found with bpftool, waited out, and reported per run.

A program anyone else attaches to raw_syscalls runs on every syscall of every
process, the benchmark's baseline included, so a run measured beside one is
not a measurement of ours alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Callable, Dict, List, Set

SYSCALL_TPS = ("sys_enter", "sys_exit")


def parse_foreign(perf_json: str, link_json: str, own_pid: int) -> List[Dict[str, object]]:
    """Programs on the syscall tracepoints not held by `own_pid`, from `bpftool -j perf` and `-j link`.

    Call it while none of ours is attached: raw tracepoint links carry no pid.
    """
    out: List[Dict[str, object]] = []
    for e in json.loads(perf_json or "[]"):
        if e.get("fd_type") == "tracepoint" and e.get("tracepoint") in SYSCALL_TPS and e.get("pid") != own_pid:
            out.append({"pid": e.get("pid"), "prog_id": e.get("prog_id"), "tracepoint": e.get("tracepoint")})
    for e in json.loads(link_json or "[]"):
        if e.get("type") in ("raw_tracepoint", "tracing") and e.get("tp_name") in SYSCALL_TPS:
            out.append({"pid": None, "prog_id": e.get("prog_id"), "tracepoint": e.get("tp_name")})
    return out


def foreign_programs(own_pid: int = 0) -> List[Dict[str, object]]:
    own_pid = own_pid or os.getpid()

    def bpftool(*args: str) -> str:
        proc = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True, timeout=10)
        return proc.stdout if proc.returncode == 0 else "[]"

    return parse_foreign(bpftool("perf"), bpftool("link"), own_pid)


class QuietWaiter:
    """Waits before a run for other syscall tracers to detach, up to `timeout` s.

    A program still there after a full wait is long-lived (a dashboard left
    running): it is part of the machine for this benchmark, not waited for
    again, and still counted in every run it shares.
    """

    def __init__(self, timeout: float, log: Callable[[str], None] = lambda s: None, budget: float = 120.0) -> None:
        self.timeout = timeout
        self.log = log
        self.resident: Set[object] = set()
        # a machine where tests come and go all the time would otherwise
        # stretch the run without bound: past this much waiting in total, stop waiting
        self.budget = budget
        self.waited = 0.0

    def __call__(self) -> List[Dict[str, object]]:
        foreign = foreign_programs()
        waiting = [f for f in foreign if f["prog_id"] not in self.resident]
        timeout = min(self.timeout, self.budget - self.waited)
        if waiting and timeout > 0:
            pids = sorted({str(f["pid"]) for f in waiting})
            self.log(f"waiting up to {timeout:g} s: other programs on raw_syscalls (pids {', '.join(pids)})")
            started = time.monotonic()
            while waiting and time.monotonic() < started + timeout:
                time.sleep(0.5)
                foreign = foreign_programs()
                waiting = [f for f in foreign if f["prog_id"] not in self.resident]
            self.waited += time.monotonic() - started
            if waiting:
                self.log(f"still attached after {timeout:g} s, measuring beside them: "
                         f"{', '.join(str(f['pid']) for f in waiting)}")
                self.resident.update(f["prog_id"] for f in waiting)
        return foreign
