"""Kernel audit's backlog while a workload runs: `auditctl -s` figures before and after, sampled between.

When the backlog queue is full, kernel audit makes the syscall that is being
recorded sleep (up to backlog_wait_time) until auditd catches up, and only
then drops records (`lost`); backlog_wait_time_actual adds up the time slept.
Both times are in jiffies (the kernel's HZ).
"""

from __future__ import annotations

import contextlib
import gzip
import threading
from typing import Dict, Iterator, List, Optional

from tracer.capture.ledger import counter_delta

FIELDS = ("lost", "backlog", "backlog_limit", "backlog_wait_time", "backlog_wait_time_actual")


def config_hz(config_text: str) -> Optional[int]:
    """CONFIG_HZ from a kernel config's text, or None."""
    for line in config_text.splitlines():
        if line.startswith("CONFIG_HZ="):
            return int(line.split("=", 1)[1])
    return None


def kernel_hz() -> Optional[int]:
    """The running kernel's HZ, from /proc/config.gz or /boot/config-<release>; None if neither says."""
    import platform

    for path, opener in (("/proc/config.gz", gzip.open), (f"/boot/config-{platform.release()}", open)):
        try:
            with opener(path, "rt") as f:
                hz = config_hz(f.read())
        except OSError:
            continue
        if hz:
            return hz
    return None


def summarize(before: Dict[str, Optional[int]], after: Dict[str, Optional[int]], backlogs: List[int],
              hz: Optional[int]) -> Dict[str, object]:
    """The figures S5 reports from two status readings and the backlog samples taken between them."""
    limit = after.get("backlog_limit") or before.get("backlog_limit")
    waited = counter_delta(before.get("backlog_wait_time_actual"), after.get("backlog_wait_time_actual"))
    return {
        "before": before,
        "after": after,
        "lost_delta": counter_delta(before.get("lost"), after.get("lost")),
        "backlog_max": max(backlogs) if backlogs else None,
        "backlog_samples": len(backlogs),
        "backlog_full_samples": sum(1 for b in backlogs if limit and b >= limit),
        "backlog_wait_jiffies": waited,
        "backlog_wait_ms": None if waited is None or not hz else waited * 1000 / hz,
        "hz": hz,
    }


def _fields(status) -> Dict[str, Optional[int]]:
    return {k: getattr(status, k, None) for k in FIELDS}


@contextlib.contextmanager
def watch(interval: float = 0.02) -> Iterator[Dict[str, object]]:
    """Samples the audit status every `interval` s during the block; the yielded dict is filled at its end."""
    from tracer.kaudit import netlink

    out: Dict[str, object] = {}
    backlogs: List[int] = []
    stop = threading.Event()
    with netlink.AuditSocket() as conn:
        before = _fields(conn.status())

        def sample() -> None:
            # its own socket: requests on one netlink socket from two threads would mix replies
            with netlink.AuditSocket() as own:
                while not stop.wait(interval):
                    backlogs.append(own.status().backlog)

        thread = threading.Thread(target=sample, name="bench-backlog", daemon=True)
        thread.start()
        try:
            yield out
        finally:
            stop.set()
            thread.join()
            after = _fields(conn.status())
    backlogs.append(after["backlog"] or 0)
    out.update(summarize(before, after, backlogs, kernel_hz()))
