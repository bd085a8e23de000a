"""The machine-wide audit lock: exclusive across processes, re-entrant within one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tracer.errors import BpfauditError
from tracer.kaudit.lock import audit_lock

PROBE = """
import sys
from tracer.errors import BpfauditError
from tracer.kaudit.lock import audit_lock
try:
    with audit_lock(timeout=0.2, path=sys.argv[1]):
        print("got")
except BpfauditError as err:
    print("busy:", err)
"""


def probe(path) -> str:
    return subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True,
                          check=True).stdout


def test_other_process_waits_then_gets_it(tmp_path):
    path = tmp_path / "audit.lock"
    with audit_lock(path=str(path)):
        out = probe(path)
        assert out.startswith("busy:") and "another process holds" in out
    assert probe(path) == "got\n"


def test_reentrant_in_one_process(tmp_path):
    path = str(tmp_path / "audit.lock")
    with audit_lock(path=path) as fd, audit_lock(timeout=0.1, path=path) as inner:
        assert fd >= 0 and inner == -1
        assert probe(path).startswith("busy:")
    assert probe(path) == "got\n"


def test_holder_pid_written(tmp_path):
    import os
    path = tmp_path / "audit.lock"
    with audit_lock(path=str(path)):
        assert path.read_text() == f"{os.getpid()}\n"


def test_unopenable_path_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BpfauditError, match="cannot open audit lock") as info:
        with audit_lock(path=str(blocker / "sub" / "lock")):
            pass
    assert "\n" not in str(info.value)
