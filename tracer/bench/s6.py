"""S6, the cost per recorded exec (issue 12): a fork+exec loop in a login session, every execve recorded.

Since issue 12 an exec's record carries what kernel audit's event does: the arguments and the
exec's own name (kept by a raw tracepoint on sched_process_exec for the exec's sys_exit), exe
and cwd by dentry walks, PROCTITLE. Kernel audit writes SYSCALL, EXECVE, CWD, two PATH and
PROCTITLE records for the same exec. Judged: bpfaudit's added cost per exec against kernel
audit's with the tuned auditd (at most half), reported against the default auditd too.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

from tracer.bench import kstate
from tracer.bench.builds import Build
from tracer.bench.quiet import QuietWaiter
from tracer.bench.recorded import BUILD_ROWS, OURS, Recorded, add_cpu_view, recorded_targets, run_recorded
from tracer.bench.s2 import FLOOR_NAME
from tracer.bench.workload import ExecJob
from tracer.capture.session import DEFAULT_TRANSPORT

__all__ = ["BUILD_ROWS", "OURS", "SPEC", "TARGET", "add_cpu_view", "run_s6", "s6_targets"]

TARGET = 0.5  # bpfaudit's added cost per exec at most half of kernel audit's (tuned auditd)
SPEC = Recorded("S6", kstate.EXEC_RULE, call="exec", own="ppid", target=TARGET, cpu_of="the loop and its children")


def run_s6(binary: str, target: str, reps: int, seconds: float, log: Callable[[str], None],
           quiet: Optional[QuietWaiter] = None, transport: str = DEFAULT_TRANSPORT,
           builds: Sequence[Build] = ()) -> Dict[str, object]:
    return run_recorded(
        SPEC, ExecJob(binary, seconds, target, auid=1000), reps, log, quiet, transport, builds,
        "S6 cost per recorded exec, fork+exec+wait of a static `return 0` (wall ns per exec; x kaudit = tuned)",
        [f"rule: `{kstate.EXEC_RULE}`; workload `exec_loop SECONDS {target}`, auid 1000: fork, "
         "execve, waitpid in a loop, every exec of the children recorded",
         f"{FLOOR_NAME}: the empty pair on raw_syscalls only (no program on sched_process_exec)",
         "S6 ranks by wall time per exec (fork + execve + wait): kernel audit's backlog waits and the "
         "consumer's CPU are the cost; CPU per exec (the loop and its children) is in the JSON"])


def s6_targets(scenarios: Dict[str, Dict]) -> list:
    return recorded_targets(scenarios, SPEC)
