"""The workloads (getppid_loop, exec_loop, open_loop): started in a login session (auid) or not, parsed from their JSON line."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from tracer.errors import BpfauditError


@dataclass(frozen=True)
class WorkloadResult:
    calls: int
    ns: int
    ns_per_call: float
    calls_per_s: float
    cpu_ns_per_call: float = 0.0  # the workload thread's CPU time per call: descheduled time left out
    slice_median_ns_per_call: float = 0.0  # median over ~10 ms slices of wall time per call
    warmup: int = 0  # untimed calls before the timed ones (they are recorded too)
    pid: int = 0  # the workload's pid, to tell its records from other processes'
    # with `-l` (S5): per-call latency as ((low ns, width ns, count), ...) log-linear buckets, and the extremes
    latency_hist: Tuple[Tuple[int, int, int], ...] = ()
    latency_min_ns: Optional[int] = None
    latency_max_ns: Optional[int] = None


def login_session(auid: Optional[int]) -> Optional[Callable[[], None]]:
    """preexec_fn making the child a login session of `auid`, as pam_loginuid does; None: auid stays unset."""
    if auid is None:
        return None

    def set_loginuid() -> None:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(auid))

    return set_loginuid


def command(binary: str, seconds: float, rate: float = 0, latency: bool = False) -> List[str]:
    args = [binary, *(["-l"] if latency else []), f"{seconds:g}"]
    if rate:
        args.append(f"{rate:.0f}")
    return args


def start(binary: str, seconds: float, rate: float = 0, auid: Optional[int] = None,
          latency: bool = False) -> subprocess.Popen:
    return start_argv(command(binary, seconds, rate, latency), auid)


def start_argv(argv: List[str], auid: Optional[int] = None) -> subprocess.Popen:
    """Starts a workload binary (argv[0]) that prints its JSON result line, in a login session of `auid`."""
    if not os.access(argv[0], os.X_OK):
        raise BpfauditError(f"workload {argv[0]} is missing: run scripts/bench, which builds it with gcc", 2)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=login_session(auid))


def parse_output(stdout: str, pid: int = 0) -> WorkloadResult:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise BpfauditError(f"the workload printed no result line (got {stdout.strip()[:200]!r})", 1)
    d = json.loads(lines[-1])
    hist = tuple((int(lo), int(width), int(n)) for lo, width, n in d.get("lat_hist", ()))
    return WorkloadResult(int(d["calls"]), int(d["ns"]), float(d["ns_per_call"]), float(d["calls_per_s"]),
                          float(d.get("cpu_ns_per_call", 0)), float(d.get("slice_median_ns_per_call", 0)),
                          int(d.get("warmup", 0)), pid, hist, d.get("lat_min_ns"), d.get("lat_max_ns"))


# What a scenario ranks configurations by (WorkloadResult attribute names).
METRICS = {"wall": "ns_per_call", "cpu": "cpu_ns_per_call"}


def metric_value(result: WorkloadResult, metric: str) -> float:
    return getattr(result, METRICS[metric])


def finish(proc: subprocess.Popen, timeout: Optional[float] = None) -> WorkloadResult:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise BpfauditError(f"the workload failed (exit {proc.returncode}): {err.strip()[:200]}", 1)
    return parse_output(out, proc.pid)


def run(binary: str, seconds: float, rate: float = 0, auid: Optional[int] = None) -> WorkloadResult:
    return finish(start(binary, seconds, rate, auid), timeout=seconds * 20 + 60)


@dataclass(frozen=True)
class GetppidJob:
    """One run of the getppid workload: what configurations measure (see tracer.bench.macro for others)."""

    binary: str
    seconds: float
    rate: float = 0
    auid: Optional[int] = None
    latency: bool = False  # time every call (S5's histogram)

    def start(self) -> subprocess.Popen:
        return start(self.binary, self.seconds, self.rate, self.auid, self.latency)

    def finish(self, proc: subprocess.Popen) -> WorkloadResult:
        return finish(proc, timeout=self.seconds * 20 + 60)

    def run(self) -> WorkloadResult:
        return self.finish(self.start())


def target_command(binary: str, seconds: float, target: str) -> List[str]:
    """`LOOP SECONDS TARGET`: exec_loop's and open_loop's command line."""
    return [binary, f"{seconds:g}", target]


exec_command = target_command  # S6's name for it


@dataclass(frozen=True)
class TargetJob:
    """One run of a loop that works on `target` for `seconds` (exec_loop, open_loop); a subclass
    says what the target must be."""

    binary: str
    seconds: float
    target: str
    auid: Optional[int] = None

    def missing(self) -> Optional[str]:
        """Why the target will not do (a usage error), or None."""
        return None

    def start(self) -> subprocess.Popen:
        why = self.missing()
        if why:
            raise BpfauditError(why, 2)
        return start_argv(target_command(self.binary, self.seconds, self.target), self.auid)

    def finish(self, proc: subprocess.Popen) -> WorkloadResult:
        return finish(proc, timeout=self.seconds * 20 + 60)

    def run(self) -> WorkloadResult:
        return self.finish(self.start())


class ExecJob(TargetJob):
    """exec_loop (S6): fork + execve(`target`) + wait; a "call" is one exec."""

    def missing(self) -> Optional[str]:
        if os.access(self.target, os.X_OK):
            return None
        return f"exec target {self.target} is missing: run scripts/bench, which builds it"


class OpenJob(TargetJob):
    """open_loop (S7): openat(AT_FDCWD, `target`, O_RDONLY) + close; a "call" is one openat."""

    def missing(self) -> Optional[str]:
        if os.path.isfile(self.target):
            return None
        return f"open target {self.target} is missing or not a file: name one with --open-target"
