"""Runs a command as a fresh login session (what pam_loginuid does) and
measures it: wall time, CPU time of it and its reaped descendants, and the
session id the kernel assigned, by which both engines' records are filtered."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from typing import Callable, List, Optional

from tracer.errors import BpfauditError


@dataclasses.dataclass(frozen=True)
class RunResult:
    ses: int  # audit session id the kernel gave the login session
    pid: int
    wall_s: float
    cpu_s: float  # user + system of CMD and the descendants it waited for
    returncode: int


def _child(cmd: List[str], auid: int, report_fd: int) -> None:
    """In the forked child: become a login session, say which, exec. Never returns."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        # its own process group, so an interrupted comparison can end CMD and all it started
        os.setpgid(0, 0)
        # Writing loginuid is what makes the kernel hand out a new session id.
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(auid))
        with open("/proc/self/sessionid") as f:
            os.write(report_fd, f"S{f.read().strip()}\n".encode())
        os.execvp(cmd[0], cmd)
    except BaseException as err:  # noqa: BLE001 - anything here must reach the parent
        try:
            msg = f"{type(err).__name__}: {err}".replace("\n", " ")
            os.write(report_fd, f"E{msg}\n".encode())
        finally:
            os._exit(127)


def run_login_session(cmd: List[str], auid: int, while_running: Optional[Callable[[], None]] = None
                      ) -> RunResult:
    """Runs `cmd` with loginuid `auid` (stdout to /dev/null, stderr kept) and waits for it.

    `while_running` is called repeatedly until the command ends (e.g. to drain a
    capture); the exit is timed by a thread blocked in wait4, so polling
    granularity does not add to the wall time.
    """
    r, w = os.pipe()  # close-on-exec: EOF at the child's exec
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(cmd, auid, w)
    os.close(w)
    done: dict = {}
    waiter = None

    def reap() -> None:
        _, status, usage = os.wait4(pid, 0)
        done.update(end=time.perf_counter(), status=status, usage=usage)

    try:
        with os.fdopen(r, "rb") as f:
            report = f.read().decode("utf-8", "replace")
        waiter = threading.Thread(target=reap, name="compare-wait", daemon=True)
        waiter.start()
        while waiter.is_alive():
            if while_running is not None:
                while_running()
            waiter.join(0.05 if while_running is not None else None)
    except BaseException:
        # Ctrl-C or an error while CMD runs: do not leave it behind.
        if "status" not in done:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if waiter is not None:
                waiter.join()  # it reaps CMD, now killed
            else:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        raise
    lines = report.splitlines()
    ses_line = next((ln for ln in lines if ln.startswith("S")), None)
    error = next((ln[1:] for ln in lines if ln.startswith("E")), "")
    if error or ses_line is None:
        raise BpfauditError(f"cannot run {cmd[0]!r} as a login session: {error or 'no session id'}")
    usage = done["usage"]
    return RunResult(
        ses=int(ses_line[1:]),
        pid=pid,
        wall_s=done["end"] - start,
        cpu_s=usage.ru_utime + usage.ru_stime,
        returncode=os.waitstatus_to_exitcode(done["status"]),
    )
