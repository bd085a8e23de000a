"""audit_status() and its setters agree with auditctl on the real kernel (root)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tracer.kaudit import netlink
from tracer.kaudit.lock import audit_lock
from tracer.kaudit.state import kernel_audit_session

pytestmark = pytest.mark.root

SETTABLE = ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "backlog_wait_time")


@pytest.fixture(autouse=True)
def require_root():
    if os.geteuid() != 0:
        pytest.fail("kernel audit integration tests need root (CAP_AUDIT_CONTROL): run them with sudo")


def auditctl_s() -> dict[str, int]:
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=True).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+) (\d+)", out, re.M)}


def test_status_matches_auditctl():
    with audit_lock(timeout=120):
        ours = netlink.audit_status()
        theirs = auditctl_s()
        ours_after = netlink.audit_status()
    for name in SETTABLE:
        assert getattr(ours, name) == theirs[name], name
    # lost only grows (nobody resets it under the lock); backlog moves with traffic.
    assert ours.lost <= theirs["lost"] <= ours_after.lost
    assert theirs["backlog_wait_time_actual"] >= 0 and ours.backlog_wait_time_actual is not None
    assert ours.feature_bitmap & 0x2  # AUDIT_FEATURE_BITMAP_BACKLOG_WAIT_TIME: 6.x kernels have it


def test_setters_visible_to_auditctl_and_back():
    with kernel_audit_session(lock_timeout=120) as before:
        netlink.audit_set(backlog_limit=before.backlog_limit + 321, rate_limit=before.rate_limit + 7)
        netlink.set_backlog_wait_time(before.backlog_wait_time + 1000)
        shown = auditctl_s()
        assert shown["backlog_limit"] == before.backlog_limit + 321
        assert shown["rate_limit"] == before.rate_limit + 7
        assert shown["backlog_wait_time"] == before.backlog_wait_time + 1000
        subprocess.run(["auditctl", "-b", "4321"], check=True, capture_output=True)
        assert netlink.audit_status().backlog_limit == 4321
    assert auditctl_s()["backlog_limit"] == before.backlog_limit


def test_loginuid_immutable_reads_like_auditctl():
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^loginuid_immutable (\d)", out, re.M)
    assert match, out
    assert netlink.loginuid_immutable() == (match.group(1) == "1")
