"""kernel.bpf_stats_enabled for a measured window: ns per program run from the kernel's own counters."""

from __future__ import annotations

import contextlib
import json
import subprocess
from typing import Dict, Iterator, Optional

SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


@contextlib.contextmanager
def stats_enabled() -> Iterator[None]:
    """Turns the sysctl on for the block and puts the old value back, also on errors."""
    with open(SYSCTL) as f:
        before = f.read().strip()
    with open(SYSCTL, "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open(SYSCTL, "w") as f:
            f.write(before)


def prog_id(fd: int) -> int:
    """The kernel id of the program behind one of our fds (from /proc/self/fdinfo)."""
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("prog_id:"):
                return int(line.split()[1])
    raise ValueError(f"fd {fd} is not a BPF program")


def run_counters(pid: int) -> Dict[str, int]:
    """run_time_ns and run_cnt of program `pid` as `bpftool prog show` reports them."""
    out = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(pid)], capture_output=True,
                         text=True, check=True, timeout=10).stdout
    d = json.loads(out)
    return {"run_time_ns": int(d.get("run_time_ns", 0)), "run_cnt": int(d.get("run_cnt", 0))}


def ns_per_run(before: Dict[str, int], after: Dict[str, int]) -> Optional[float]:
    runs = after["run_cnt"] - before["run_cnt"]
    if runs <= 0:
        return None
    return (after["run_time_ns"] - before["run_time_ns"]) / runs
