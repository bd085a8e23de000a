"""The `--demo` workload: runs its mix, cleans up, and dies with its group."""

import os
import signal
import tempfile
import time

from tracer.demo import demo_workload, run_workload


def test_a_few_rounds_run_and_leave_no_temp_files():
    before = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("bpfaudit-demo-")}
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        start = time.monotonic()
        assert run_workload(rate=400, iterations=5) == 5
        # 8 operations a round at 400/s: about 0.1 s, paced rather than flat out
        assert 0.05 <= time.monotonic() - start < 5
    finally:
        signal.signal(signal.SIGTERM, saved[0])
        signal.signal(signal.SIGINT, saved[1])
    after = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("bpfaudit-demo-")}
    assert after <= before


def test_the_workload_runs_in_its_own_session_and_stops_with_the_block():
    with demo_workload(rate=100) as proc:
        time.sleep(0.5)
        assert proc.poll() is None
        assert os.getsid(proc.pid) == proc.pid and os.getpgid(proc.pid) == proc.pid
        if os.geteuid() == 0:
            with open(f"/proc/{proc.pid}/loginuid") as f:
                assert f.read().strip() == "1000"
    assert proc.poll() is not None
    try:
        os.killpg(proc.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "a process of the demo's group outlived it"
