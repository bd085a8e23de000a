"""Fixtures for the root/BPF integration tests: these run for real or fail,
never skip (a skip where BPF is available would hide a broken tracer)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ROOT / "tests" / "workloads"


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        raise pytest.UsageError("tests/integration needs root, BPF and auditd: run `sudo scripts/test`")


def set_loginuid(auid: int):
    """preexec_fn: what pam_loginuid does at login (the kernel also starts a new session id)."""

    def apply():
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(auid))

    return apply


def fed_workload(ruleset, binary, lines: List[str], auid: Optional[int] = 1000):
    """Runs `binary` in a login session (auid 1000; None: no session, auid unset) under a capture
    of `ruleset`, feeding it `lines` on stdin (its calls; it answers "done"), and returns
    (its pid, events, losses)."""
    from tracer.capture.session import CaptureOptions, open_capture

    with open_capture(CaptureOptions(rules=ruleset, wakeup_events=1)) as cap:
        proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                preexec_fn=set_loginuid(auid) if auid is not None else None)
        proc.stdin.write("".join(line + "\n" for line in lines) + "\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        events = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            events += cap.poll(100)
        proc.communicate("x\n", timeout=10)
        return proc.pid, events, cap.losses()


@pytest.fixture(scope="session")
def workload_bin(tmp_path_factory) -> Path:
    """tests/workloads/audit_workload.c, built with the system compiler."""
    out = tmp_path_factory.mktemp("bin") / "audit_workload"
    subprocess.run(["gcc", "-O1", "-Wall", "-o", str(out), str(WORKLOADS / "audit_workload.c")], check=True)
    return out


def bpf_prog_ids(pid: Optional[int] = None) -> List[int]:
    """ids of the BPF programs a process holds open (ours, not other tracers')."""
    base = f"/proc/{pid or 'self'}/fdinfo"
    ids = []
    for fd in os.listdir(base):
        try:
            text = Path(base, fd).read_text()
        except OSError:
            continue
        m = re.search(r"^prog_id:\s*(\d+)", text, re.M)
        if m:
            ids.append(int(m.group(1)))
    return ids


def prog_exists(prog_id: int) -> bool:
    r = subprocess.run(["bpftool", "prog", "show", "id", str(prog_id)], capture_output=True)
    return r.returncode == 0


def progs_left(prog_ids: List[int], timeout: float = 5.0) -> List[int]:
    """Those of prog_ids that still exist after up to `timeout` s: once its last fd
    is closed the kernel frees a raw-tracepoint program after an RCU grace period."""
    deadline = time.monotonic() + timeout
    while True:
        left = sorted({i for i in prog_ids if prog_exists(i)})
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
