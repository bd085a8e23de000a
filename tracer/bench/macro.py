"""S4's macro workloads: `make -j2` of a generated C project, and `dd bs=1`, as jobs configurations run."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

from tracer.bench.workload import WorkloadResult, login_session
from tracer.errors import BpfauditError

MAKEFILE = """\
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=obj/%.o)
prog: $(OBJS)
\t$(CC) -o $@ $(OBJS)
obj/%.o: src/%.c | obj
\t$(CC) -O1 -c -o $@ $<
obj:
\tmkdir -p obj
clean:
\trm -rf obj prog
"""


def unit_source(i: int, functions: int) -> str:
    """One translation unit: enough small functions that compiling it takes tens of milliseconds."""
    body = [f"#include <string.h>\n#include <stdio.h>\nint unit{i}(int x);\n"]
    for f in range(functions):
        body.append(f"static int f{i}_{f}(int x) {{ char b[32]; snprintf(b, sizeof b, \"%d\", x + {f}); "
                    f"return (int)strlen(b) * x + {f}; }}\n")
    calls = " + ".join(f"f{i}_{f}(x)" for f in range(functions))
    body.append(f"int unit{i}(int x) {{ return {calls}; }}\n")
    return "".join(body)


def generate_project(root: str, units: int = 24, functions: int = 40) -> None:
    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    with open(os.path.join(root, "Makefile"), "w") as f:
        f.write(MAKEFILE)
    for i in range(units):
        with open(os.path.join(root, "src", f"unit{i}.c"), "w") as f:
            f.write(unit_source(i, functions))
    decls = "".join(f"int unit{i}(int x);\n" for i in range(units))
    calls = " + ".join(f"unit{i}(argc)" for i in range(units))
    with open(os.path.join(root, "src", "main.c"), "w") as f:
        f.write(f"{decls}int main(int argc, char **argv) {{ (void)argv; return ({calls}) & 1; }}\n")


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


@dataclass
class TimedJob:
    """A command timed for wall and CPU (its whole process tree: RUSAGE_CHILDREN across the run).

    The benchmark starts no other child while a job runs, so the children's
    rusage delta is the job's (consumers poll() the Popen, so wait4 is not ours to call).
    """

    argv: list
    auid: Optional[int] = None
    cwd: Optional[str] = None
    _t0: int = field(default=0, repr=False)
    _cpu0: float = field(default=0.0, repr=False)

    def prepare(self) -> None:
        pass

    def start(self) -> subprocess.Popen:
        self.prepare()
        self._cpu0 = children_cpu()
        self._t0 = time.monotonic_ns()
        return subprocess.Popen(self.argv, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=login_session(self.auid))

    def finish(self, proc: subprocess.Popen) -> WorkloadResult:
        proc.wait()
        wall = time.monotonic_ns() - self._t0
        cpu = int((children_cpu() - self._cpu0) * 1e9)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode != 0:
            raise BpfauditError(f"{' '.join(self.argv)} failed (exit {proc.returncode}): {err.strip()[:200]}", 1)
        # one "call" per job: ns_per_call is the job's wall time, cpu_ns_per_call its CPU time
        return WorkloadResult(1, wall, float(wall), 1e9 / wall, float(cpu), 0.0, 0, proc.pid)

    def run(self) -> WorkloadResult:
        return self.finish(self.start())


class MakeJob(TimedJob):
    """`make -j2` of the generated project, from clean (the clean is not timed)."""

    def __init__(self, root: str, auid: Optional[int]) -> None:
        super().__init__(["make", "-s", "-j2"], auid, root)

    def prepare(self) -> None:
        subprocess.run(["make", "-s", "clean"], cwd=self.cwd, check=True, stdout=subprocess.DEVNULL)


def dd_job(count: int, auid: Optional[int]) -> TimedJob:
    """`dd bs=1`: two syscalls (read, write) per byte, none of them in the stock rules' syscall lists."""
    return TimedJob(["dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={count}", "status=none"], auid)


class Project:
    """The generated C project in a temporary directory, removed afterwards."""

    def __enter__(self) -> str:
        if shutil.which("make") is None or shutil.which("gcc") is None:
            raise BpfauditError("S4 needs make and gcc: run scripts/setup (scripts/bench does)", 2)
        self.root = tempfile.mkdtemp(prefix="bpfaudit-bench-make-")
        os.chmod(self.root, 0o755)
        generate_project(self.root)
        return self.root

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


