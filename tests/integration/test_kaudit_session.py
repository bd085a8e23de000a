"""kernel_audit_session puts `auditctl -s` and `auditctl -l` back exactly, however the block ends (root)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile

import pytest

from tracer.kaudit import netlink
from tracer.kaudit.lock import audit_lock
from tracer.kaudit.state import kernel_audit_session, load_rules

pytestmark = pytest.mark.root

SETTABLE = ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "backlog_wait_time")
# Rules that match nothing in practice, so enabling audit does not flood the console.
RULES = [
    "-w /nonexistent-bpfaudit-kaudit-test -p wa -k kaudit_session",
    "-a always,exit -F arch=b64 -S getppid -F pid=2147483646 -k kaudit_session",
]


@pytest.fixture(autouse=True)
def require_root():
    if os.geteuid() != 0:
        pytest.fail("kernel audit integration tests need root (CAP_AUDIT_CONTROL): run them with sudo")


def observed() -> tuple[dict[str, int], str]:
    """(settable `auditctl -s` fields, `auditctl -l` text): what must be identical after a session."""
    status = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=True).stdout
    fields = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+) (\d+)", status, re.M)}
    rules = subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=True).stdout
    return {k: fields[k] for k in SETTABLE}, rules


def change_everything(before_status: dict[str, int]) -> None:
    load_rules(RULES)
    netlink.audit_set(backlog_limit=before_status["backlog_limit"] + 100,
                      backlog_wait_time=before_status["backlog_wait_time"] + 500,
                      rate_limit=before_status["rate_limit"] + 3,
                      failure=0 if before_status["failure"] else 1,
                      enabled=0 if before_status["enabled"] else 1)


def assert_changed(before) -> None:
    status, rules = observed()
    assert all(r.split()[0] in rules for r in RULES) and rules != before[1]
    for name in ("backlog_limit", "backlog_wait_time", "rate_limit", "failure", "enabled"):
        assert status[name] != before[0][name], name


def test_restored_after_normal_exit():
    with audit_lock(timeout=120):
        before = observed()
        with kernel_audit_session():
            change_everything(before[0])
            assert_changed(before)
        assert observed() == before


def test_restored_after_exception():
    with audit_lock(timeout=120):
        before = observed()
        with pytest.raises(ZeroDivisionError), kernel_audit_session():
            change_everything(before[0])
            assert_changed(before)
            1 / 0
        assert observed() == before


CHILD = """
import functools, sys, time
from tracer.kaudit import lock, state
sys.path.insert(0, sys.argv[2])
from test_kaudit_session import change_everything, observed
# The parent holds the real audit lock for the whole test, so the child locks a private file.
state.audit_lock = functools.partial(lock.audit_lock, path=sys.argv[1])
try:
    with state.kernel_audit_session():
        change_everything(observed()[0])
        print("ready", flush=True)
        time.sleep(60)
except KeyboardInterrupt as err:
    print("interrupted", type(err).__name__, flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_restored_after_signal_to_child(sig):
    with audit_lock(timeout=120), tempfile.TemporaryDirectory() as tmp:
        before = observed()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, os.path.join(tmp, "lock"), os.path.dirname(__file__)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        try:
            line = child.stdout.readline()
            assert line == "ready\n", child.stderr.read()
            assert_changed(before)
            child.send_signal(sig)
            out, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        expected = "KeyboardInterrupt" if sig == signal.SIGINT else "Terminated"
        assert child.returncode == 130 and out == f"interrupted {expected}\n", err
        assert observed() == before
