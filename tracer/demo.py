"""The built-in workload of `bpfaudit top --demo`: a small, steady, varied mix
of audited syscalls (opens that work and fail, exec, unlink, connect, chmod),
run in its own login session so its records carry auid 1000."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator, List

DEMO_AUID = 1000
DEMO_RATE = 200  # syscalls per second, roughly: light enough for any machine


def _closed_port() -> int:
    """A localhost port nobody listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connect(port: int) -> None:
    with socket.socket() as s:
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            pass


def _open(path: str) -> None:
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError:
        pass


def _exec_true() -> None:
    # fork+exec rather than posix_spawn: glibc's spawn resets every signal
    # handler in the child, ~120 rt_sigaction calls of noise per exec.
    pid = os.fork()
    if pid == 0:
        try:
            os.execv("/bin/true", ["/bin/true"])
        finally:
            os._exit(127)
    os.waitpid(pid, 0)


def run_workload(rate: float = DEMO_RATE, iterations: int = 0) -> int:
    """Loop over the mix at about `rate` operations per second until SIGTERM
    (or `iterations` rounds when non-zero); returns the rounds done."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    port = _closed_port()
    rounds = 0
    with tempfile.TemporaryDirectory(prefix="bpfaudit-demo-") as tmp:
        present = os.path.join(tmp, "present")
        with open(present, "w") as f:
            f.write("demo\n")
        missing = os.path.join(tmp, "missing", "nothing-here")
        scratch = os.path.join(tmp, "scratch")

        def make_and_unlink() -> None:
            os.close(os.open(scratch, os.O_CREAT | os.O_WRONLY, 0o600))
            os.unlink(scratch)

        mix = [
            lambda: _open("/etc/hostname"),
            lambda: _open(present),
            lambda: _open(missing),
            lambda: _open("/etc/shadow-does-not-exist"),
            make_and_unlink,
            lambda: os.chmod(present, 0o640 if rounds % 2 else 0o600),
            lambda: _connect(port),
            _exec_true,
        ]
        period = len(mix) / max(rate, 1.0)
        deadline = time.monotonic()
        while not stop and (iterations == 0 or rounds < iterations):
            for op in mix:
                op()
            rounds += 1
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                deadline = time.monotonic()  # running late: do not try to catch up
    return rounds


def _child_setup(auid: int) -> None:
    # Die with top even if top is killed outright (SIGKILL skips our cleanup).
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    # What pam_loginuid does for a login: in the child, before exec.
    try:
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(auid))
    except OSError:
        pass  # not root, or loginuid immutable: the demo still runs, with the caller's auid


@contextmanager
def demo_workload(rate: float = DEMO_RATE, auid: int = DEMO_AUID) -> Iterator[subprocess.Popen]:
    """Run the workload in its own session and process group for the `with`
    block; on exit the whole group is terminated (no orphans)."""
    cmd: List[str] = [sys.executable, "-m", "tracer.demo", "--rate", str(rate)]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: _child_setup(auid),
        close_fds=True,
    )
    try:
        yield proc
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # children of the group (a /bin/true in flight) may outlive the leader
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracer.demo", description=__doc__)
    parser.add_argument("--rate", type=float, default=DEMO_RATE, help="operations per second")
    parser.add_argument("--iterations", type=int, default=0, help="rounds, 0 = until SIGTERM")
    args = parser.parse_args(argv)
    run_workload(args.rate, args.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
