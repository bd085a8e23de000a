"""`bpfaudit compare` for real: a small create/delete workload under the stock
OSPP auid rules, kernel audit (auditctl + auditd) against bpfaudit. Both
engines must count the same records per key, the JSON must carry every field,
and kernel audit must be left as it was, also after Ctrl-C mid-run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracer.kaudit.lock import audit_lock
from tracer.kaudit.state import find_auditd

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[2]
STOCK = Path("/usr/share/doc/auditd/examples/rules")
CREATE = STOCK / "30-ospp-v42-1-create-success.rules"
DELETE = STOCK / "30-ospp-v42-4-delete-success.rules"
N_FILES = 20
RUNS = 2
# auditctl -s lines that are settings; lost, backlog and backlog_wait_time_actual
# are counters that move with any audited activity and cannot be set back.
COUNTERS = ("lost", "backlog", "backlog_wait_time_actual")


def require(condition: bool, message: str) -> None:
    if not condition:  # integration tests fail, never skip, on a missing precondition
        pytest.fail(message)


def audit_settings(locked: bool = True) -> tuple:
    """`auditctl -s` settings, `auditctl -l` and the running auditd; `locked`: read under the
    machine-wide audit lock, i.e. between other (concurrent) tests' audit sessions."""
    with audit_lock() if locked else contextlib.nullcontext():
        status = subprocess.run(["auditctl", "-s"], check=True, capture_output=True, text=True).stdout
        rules = subprocess.run(["auditctl", "-l"], check=True, capture_output=True, text=True).stdout
        auditd = find_auditd()
    settings = [ln for ln in status.splitlines() if ln.split(" ", 1)[0] not in COUNTERS]
    return settings, rules, auditd


def bpfaudit(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tracer", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def workload(tmp_path: Path) -> list:
    work = tmp_path / "work"
    work.mkdir()
    return ["sh", "-c", f'for i in $(seq {N_FILES}); do echo x > {work}/f$i; rm {work}/f$i; done']


def test_both_engines_count_the_same_per_key_and_the_json_has_every_field(tmp_path):
    require(CREATE.exists() and DELETE.exists(), f"stock rules missing under {STOCK}: install auditd")
    before = audit_settings()
    out = tmp_path / "cmp.json"
    proc = bpfaudit("compare", "-R", str(CREATE), "-R", str(DELETE), "--runs", str(RUNS), "--json", str(out),
                    "--", *workload(tmp_path))
    stdout, stderr = proc.communicate(timeout=600)
    print(stdout, stderr)
    assert proc.returncode == 0, stderr
    assert audit_settings() == before, "kernel audit settings, rules or auditd changed"

    report = json.loads(out.read_text())
    assert set(report) == {"version", "command", "runs", "auid", "machine", "cells", "per_key_agree", "differences"}
    assert report["runs"] == RUNS and report["auid"] == 1000 and report["command"][0] == "sh"
    assert set(report["machine"]) == {"kernel", "cpus", "cpu_model", "python"}
    assert [(c["engine"], c["rules"]) for c in report["cells"]] == [
        ("baseline", ""), ("audit", CREATE.name), ("bpf", CREATE.name), ("audit", DELETE.name), ("bpf", DELETE.name)]
    for cell in report["cells"]:
        assert set(cell) == {"engine", "rules", "label", "runs", "wall_s_median", "cpu_s_median", "wall_ratio",
                             "cpu_ratio", "records", "by_key", "by_syscall", "losses", "notes"}
        assert len(cell["runs"]) == RUNS and all(r["returncode"] == 0 for r in cell["runs"])
        assert len({r["ses"] for r in cell["runs"]}) == RUNS, "each run is its own login session"
        assert cell["wall_s_median"] > 0 and cell["cpu_s_median"] > 0 and cell["wall_ratio"] > 0
    cells = {(c["engine"], c["rules"]): c for c in report["cells"]}

    # the workload's records, exactly, in both engines
    want = {CREATE.name: {"successful-create": RUNS * N_FILES}, DELETE.name: {"successful-delete": RUNS * N_FILES}}
    for rules, by_key in want.items():
        assert cells[("audit", rules)]["by_key"] == by_key
        assert cells[("bpf", rules)]["by_key"] == by_key
    assert report["per_key_agree"] == {CREATE.name: True, DELETE.name: True}
    assert report["differences"] == []

    for rules in want:
        audit = cells[("audit", rules)]["losses"]
        assert {"lost_delta", "backlog_max", "backlog_wait_time_actual_delta", "backlog_limit",
                "rules_loaded"} <= set(audit)
        # lost_delta counts every process's records (other auid-1000 tests may run meanwhile):
        # the workload's own completeness is the per-key equality above
        assert isinstance(audit["lost_delta"], int) and audit["rules_loaded"] > 0
        ledger = cells[("bpf", rules)]["losses"]
        assert ledger["reconciled"] and ledger["emitted"] == ledger["delivered"] + ledger["lost"]
        assert {"layers", "cross_checks", "per_cpu", "kernel_audit", "in_flight"} <= set(ledger)

    assert "records per key" in stdout and "successful-delete" in stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_in_the_kernel_audit_cell_restores_kernel_audit(tmp_path, signum):
    require(CREATE.exists(), f"{CREATE} missing: install auditd")
    before = audit_settings()
    runs = tmp_path / "runs"
    runs.mkdir()
    # the first run (the baseline) returns at once; the second (the audit cell's) sleeps until killed
    cmd = ["sh", "-c", f'n=$(ls {runs} | wc -l); touch {runs}/run$n; [ "$n" -eq 0 ] || exec sleep 120']
    proc = bpfaudit("compare", "-R", str(CREATE), "--engine", "audit", "--runs", "1", "--", *cmd)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (runs / "run1").exists() and proc.poll() is None:
            time.sleep(0.1)
        require((runs / "run1").exists(), f"the audit cell's run never started: {proc.poll()=}")
        time.sleep(0.5)
        assert audit_settings(locked=False)[1] != before[1], "the stock rules are loaded while the audit cell runs"
        sleeper = _sleeping_workload(proc.pid)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(stdout, stderr)
    assert proc.returncode == 130, stderr
    assert "interrupted; kernel audit state was restored" in stderr
    assert audit_settings() == before
    assert not Path(f"/proc/{sleeper}").exists(), "the interrupted workload was left running"


def _sleeping_workload(compare_pid: int) -> int:
    """pid of the audit cell's `sleep 120`: the compare process's child running sleep."""
    children = []
    for task in os.listdir(f"/proc/{compare_pid}/task"):
        with contextlib.suppress(OSError):
            children += Path(f"/proc/{compare_pid}/task/{task}/children").read_text().split()
    for pid in children:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep\0"):
                return int(pid)
    pytest.fail(f"the audit cell's workload is not running (children of compare: {children})")
