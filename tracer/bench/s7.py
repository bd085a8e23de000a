"""S7, the cost per recorded openat (issue 13): openat + close of a small file in a loop in a
login session, every openat recorded.

Since issue 13 an openat's record carries the opened file's inode, device, mode and owner (read
at sys_exit from the returned descriptor); kernel audit writes SYSCALL, CWD, PATH (with those
attributes) and PROCTITLE records for the same openat. Judged: bpfaudit's added cost per openat
against kernel audit's with the tuned auditd (at most 1/25, as S2's per recorded call),
reported against the default auditd too.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

from tracer.bench import kstate
from tracer.bench.builds import Build
from tracer.bench.quiet import QuietWaiter
from tracer.bench.recorded import BUILD_ROWS, Recorded, recorded_targets, run_recorded
from tracer.bench.s2 import FLOOR_NAME
from tracer.bench.workload import OpenJob
from tracer.capture.session import DEFAULT_TRANSPORT

__all__ = ["BUILD_ROWS", "SPEC", "TARGET", "run_s7", "s7_targets"]

TARGET = 1 / 25  # bpfaudit's added cost per openat at most 1/25 of kernel audit's (tuned auditd), as S2's
SPEC = Recorded("S7", kstate.OPEN_RULE, call="openat", own="pid", target=TARGET, cpu_of="the loop")


def run_s7(binary: str, path: str, reps: int, seconds: float, log: Callable[[str], None],
           quiet: Optional[QuietWaiter] = None, transport: str = DEFAULT_TRANSPORT,
           builds: Sequence[Build] = ()) -> Dict[str, object]:
    return run_recorded(
        SPEC, OpenJob(binary, seconds, path, auid=1000), reps, log, quiet, transport, builds,
        f"S7 cost per recorded openat, openat+close of {path} (wall ns per openat; x kaudit = tuned)",
        [f"rule: `{kstate.OPEN_RULE}`; workload `open_loop SECONDS {path}`, auid 1000: openat(AT_FDCWD, FILE, "
         "O_RDONLY) and close in a loop, every openat recorded (close is not in the rule); kernel audit writes "
         "SYSCALL, CWD, PATH and PROCTITLE per openat, bpfaudit's record carries the file's inode, device, mode "
         "and owner",
         f"{FLOOR_NAME}: the empty pair on raw_syscalls only (not bpfaudit's other programs)",
         "S7 ranks by wall time per openat (openat + close): kernel audit's backlog waits and the "
         "consumer's CPU are the cost; CPU per openat (the loop's thread) is in the JSON"])


def s7_targets(scenarios: Dict[str, Dict]) -> list:
    return recorded_targets(scenarios, SPEC)
