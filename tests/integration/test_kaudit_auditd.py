"""End to end: kernel audit records of a known workload, read via auditd's log and via netlink (root)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tracer.kaudit import netlink
from tracer.kaudit.auditd import AuditdRun
from tracer.kaudit.records import parse_audit_records
from tracer.kaudit.state import find_auditd, kernel_audit_session, load_rules, snapshot

pytestmark = pytest.mark.root

CALLS = 23
AUID = 4242
# Waits until the rule naming its pid is loaded (stdin closes), then calls getppid CALLS times.
WORKLOAD = f"import os, sys; sys.stdin.read(); [os.getppid() for _ in range({CALLS})]"


SECOND_READER = """
import re
from tracer.errors import BpfauditError
from tracer.kaudit.netlink import AuditNetlinkReader
try:
    AuditNetlinkReader().open()
except BpfauditError as err:
    print(re.search(r"taken by pid \\d+", str(err)).group(0))
"""


@pytest.fixture(autouse=True)
def require_root():
    if os.geteuid() != 0:
        pytest.fail("kernel audit integration tests need root (CAP_AUDIT_CONTROL): run them with sudo")


def login_as_user() -> None:
    # What pam_loginuid does: the child's records then carry auid=AUID and a session id.
    with open("/proc/self/loginuid", "w") as f:
        f.write(str(AUID))


def run_workload() -> subprocess.Popen:
    """Start the workload paused; caller loads a rule for its pid, then calls release()."""
    return subprocess.Popen([sys.executable, "-c", WORKLOAD], stdin=subprocess.PIPE, preexec_fn=login_as_user)


def release(child: subprocess.Popen) -> None:
    child.communicate(b"", timeout=30)
    assert child.returncode == 0


def assert_workload_events(events, child_pid: int) -> None:
    tagged = [e for e in events if e.keys == ["t"]]
    assert len(tagged) == CALLS, [e.types for e in events]
    for event in tagged:
        syscall = event.record("SYSCALL").fields
        assert syscall["arch"] == "c000003e" and syscall["syscall"] == "110"
        assert syscall["success"] == "yes" and syscall["exit"] == str(os.getpid())
        assert syscall["pid"] == str(child_pid) and syscall["ppid"] == str(os.getpid())
        assert syscall["auid"] == str(AUID) and syscall["ses"] != "4294967295"
        assert syscall["comm"] == "python3" or syscall["exe"] == os.path.realpath(sys.executable)
        # Only presence: the kernel caches proctitle at the task's first record, here the
        # loginuid write before exec, so it shows the parent's command line.
        assert event.types == ["SYSCALL", "PROCTITLE"]
    serials = [e.serial for e in tagged]
    assert serials == sorted(serials) and len(set(serials)) == CALLS


@pytest.mark.parametrize("tuned", [False, True], ids=["distro", "tuned"])
def test_auditd_run_counts_exact_events_and_restores(tuned):
    if find_auditd() is not None:
        pytest.fail("an auditd is already running; this test starts its own: stop it first")
    with kernel_audit_session(lock_timeout=300) as before:
        with AuditdRun(tuned=tuned) as run:
            assert run.started_pid and netlink.audit_status().pid == run.started_pid
            assert netlink.audit_status().enabled == 1
            child = run_workload()
            load_rules([f"-a always,exit -F arch=b64 -S getppid -F pid={child.pid} -k t"])
            release(child)
        assert find_auditd() is None and netlink.audit_status().pid == 0
        assert snapshot() == before
        assert_workload_events(run.events(), child.pid)
        fmt = run.events()[0].record("DAEMON_START").fields["format"]
        assert fmt == ("raw" if tuned else "enriched")
        if not tuned:
            syscall = next(e for e in run.events() if e.keys == ["t"]).record("SYSCALL")
            assert syscall.enriched["SYSCALL"] == "getppid" and syscall.enriched["ARCH"] == "x86_64"
    assert snapshot() == before


def test_netlink_reader_counts_exact_events_and_unregisters():
    if find_auditd() is not None:
        pytest.fail("an auditd is already running and holds the audit pid slot: stop it first")
    with kernel_audit_session(lock_timeout=300) as before:
        with netlink.AuditNetlinkReader() as reader:
            assert netlink.audit_status().pid == os.getpid()
            netlink.set_enabled(1)
            child = run_workload()
            load_rules([f"-a always,exit -F arch=b64 -S getppid -F pid={child.pid} -k t"])
            release(child)
            records = list(reader.records(idle_timeout=1.0))
            other = subprocess.run([sys.executable, "-c", SECOND_READER], capture_output=True, text=True,
                                   cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
            assert other.stdout == f"taken by pid {os.getpid()}\n", other.stderr
        assert netlink.audit_status().pid == 0
        assert reader.overruns == 0
        assert_workload_events(parse_audit_records(r.log_line() for r in records), child.pid)
    assert snapshot() == before


def test_auditd_run_reads_running_auditd_log_and_leaves_it_running(tmp_path):
    if find_auditd() is not None:
        pytest.fail("an auditd is already running; this test starts its own: stop it first")
    from tracer.kaudit.auditd import AUDITD, private_conf, render_conf

    plugins = tmp_path / "plugins.d"
    plugins.mkdir()
    conf = private_conf(str(tmp_path), str(plugins), tuned=True)
    (tmp_path / "auditd.conf").write_text(render_conf(conf))
    (tmp_path / "auditd.conf").chmod(0o640)
    with kernel_audit_session(lock_timeout=300) as before:
        # Someone else's auditd (started apart from AuditdRun), already logging.
        daemon = subprocess.Popen([AUDITD, "-n", "-s", "nochange", "-c", str(tmp_path)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                if netlink.audit_status().pid == daemon.pid:
                    break
                subprocess.run(["sleep", "0.02"])
            assert netlink.audit_status().pid == daemon.pid
            with AuditdRun() as run:
                assert run.started_pid is None and run.log_path == conf["log_file"]
                assert netlink.audit_status().enabled == 1
                child = run_workload()
                load_rules([f"-a always,exit -F arch=b64 -S getppid -F pid={child.pid} -k t"])
                release(child)
            assert daemon.poll() is None and netlink.audit_status().pid == daemon.pid
            assert netlink.audit_status().enabled == before.enabled
            events = run.events()
            assert_workload_events(events, child.pid)
            # Only the slice written during the run: the daemon's start record came before.
            assert all(e.record("DAEMON_START") is None for e in events)
        finally:
            daemon.terminate()
            daemon.wait(timeout=10)
    assert snapshot() == before
