"""One machine-wide lock serialising everything that changes kernel audit state."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from tracer.errors import BpfauditError

LOCK_PATH = "/run/lock/bpfaudit-audit.lock"

# flock conflicts between two open() of the same file even in one process, so a
# nested audit_lock() (an AuditdRun inside a kernel_audit_session) would
# deadlock on itself; count nesting per process instead.
_held = {"pid": 0, "depth": 0}


@contextlib.contextmanager
def audit_lock(timeout: float | None = None, path: str = LOCK_PATH) -> Iterator[int]:
    """Hold an exclusive flock on `path` for the block; yields the lock fd.

    Kernel audit is one global state: two processes changing rules or the
    enabled flag at once would restore each other's changes, so every user
    (bpfaudit, tests, benchmarks) takes this lock. `timeout=None` waits forever.
    Re-entrant within one process (the nested call yields -1).
    """
    if _held["pid"] == os.getpid() and _held["depth"] > 0:
        _held["depth"] += 1
        try:
            yield -1
        finally:
            _held["depth"] -= 1
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as err:
        raise BpfauditError(f"cannot open audit lock {path}: {err.strerror}; run as root") from None
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise BpfauditError(
                            f"kernel audit is busy: another process holds {path} "
                            f"(waited {timeout:g}s); retry when it finishes"
                        ) from None
                    time.sleep(0.05)
        # Record the holder so a stuck lock can be traced to its process.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held.update(pid=os.getpid(), depth=1)
        try:
            yield fd
        finally:
            _held.update(pid=0, depth=0)
    finally:
        # Closing the fd releases the flock.
        os.close(fd)
