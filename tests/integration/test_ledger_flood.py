"""A getppid flood into a tiny perf buffer while the consumer is stopped
(SIGSTOP of the process holding the capture, reader thread included): the
loss ledger reconciles exactly, the late PERF_RECORD_LOST report stays a
cross-check, and the flood itself is not slowed by the stopped reader.

Run as a script, this module is that capture process (see capture_main)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
FLOOD = """
import os, sys, time
n = int(sys.argv[1]); f = os.getppid
t = time.perf_counter_ns()
for _ in range(n):
    f()
print((time.perf_counter_ns() - t) / n)
"""
N_RUNNING = 200_000  # reader running: the ring keeps up or nearly
N_STOPPED = 200_000  # reader stopped: the 2-page ring fills after a few records
N_AFTER = 2_000  # after SIGCONT: the first of these carries the ring's late LOST report


def rule(auid: int) -> str:
    return f"-a always,exit -F arch=b64 -S getppid -F auid={auid} -k flood"


def capture_main(auid: int, out_path: str, mode: str = "tiny-ring", transport: str = "perf-ring") -> None:
    """The capture process: drains until SIGTERM, then detaches and writes the ledger as JSON.

    tiny-ring: a 2-page ring woken on every sample. held-consumer: a roomy ring but a
    100-sample queue, and the consumer does not decode until SIGUSR1 (bcc's reader thread
    runs: only the bcc transport has a user-space queue).
    """
    sys.path.insert(0, str(ROOT))
    from tracer.capture.session import CaptureOptions, open_capture
    from tracer.capture.ledger import LossLedger, ledger_update
    from tracer.rules import parse_text

    stop, release = [], []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGUSR1, lambda *_: release.append(1))
    if mode == "tiny-ring":
        options = CaptureOptions(rules=parse_text(rule(auid)), page_cnt=2, wakeup_events=1, drain_ms=20,
                                 transport=transport)
        release.append(1)
    else:
        options = CaptureOptions(rules=parse_text(rule(auid)), page_cnt=256, queue_limit=100, drain_ms=20,
                                 transport="bcc")
    with open_capture(options) as cap:
        ledger = LossLedger()
        ledger_update(ledger, cap)
        print("ready", flush=True)
        while not stop:
            if release:
                cap.poll(20)
            else:
                time.sleep(0.02)
        cap.detach()
        cap.poll(0)
        ledger_update(ledger, cap)
    with open(out_path, "w") as f:
        json.dump(ledger.to_dict(), f)


def flood(n: int, auid: int) -> float:
    """ns per getppid call of a flood run as a login session with `auid`."""

    def login():
        with open("/proc/self/loginuid", "w") as f:
            f.write(str(auid))

    out = subprocess.run([PYTHON, "-c", FLOOD, str(n)], preexec_fn=login, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return float(out)


@pytest.mark.parametrize("transport", ["perf-ring", "bcc"])
def test_stopped_reader_flood_reconciles_exactly_and_does_not_stall_the_workload(tmp_path, transport):
    auid = random.randint(20000, 60000)  # ours alone: concurrent tests use 1000
    out_path = tmp_path / "ledger.json"
    proc = subprocess.Popen([PYTHON, __file__, str(auid), str(out_path), "tiny-ring", transport],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        if line.strip() != "ready":
            pytest.fail(f"capture process did not start (exit {proc.wait()}); see its stderr above")
        running_ns = flood(N_RUNNING, auid)
        os.kill(proc.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            stopped_ns = flood(N_STOPPED, auid)
            time.sleep(max(0.0, 3.0 - (time.monotonic() - stopped_at)))  # stopped for a few seconds
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.5)
        flood(N_AFTER, auid)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait()
    ledger = json.loads(out_path.read_text())
    print(json.dumps(ledger, indent=1), f"\nns/call: reader running {running_ns:.0f}, stopped {stopped_ns:.0f}")

    total = N_RUNNING + N_STOPPED + N_AFTER
    assert ledger["emitted"] == total, "every getppid of the floods was numbered"
    assert ledger["not_numbered"]["stash_full"] == 0
    # the identity, exactly
    assert ledger["reconciled"], ledger["problems"]
    assert ledger["emitted"] == ledger["delivered"] + ledger["lost"]
    assert ledger["in_flight"] == 0 and ledger["layers"]["queued"] == 0
    # the stopped reader made the 2-page ring overflow, and BPF counted it at once
    assert ledger["layers"]["bpf_submit_failed"] > N_STOPPED // 2
    assert ledger["lost"] == ledger["layers"]["bpf_submit_failed"] + ledger["layers"]["userspace_dropped"]
    # the ring's own report arrived late (after SIGCONT) and never exceeds BPF's count
    assert 0 < ledger["cross_checks"]["perf_lost"] <= ledger["layers"]["bpf_submit_failed"]
    assert 0 < ledger["cross_checks"]["seq_gaps"] <= ledger["lost"]
    assert sum(c["emitted"] for c in ledger["per_cpu"]) == total
    for cpu in ledger["per_cpu"]:  # and each CPU's column on its own
        assert cpu["emitted"] == cpu["delivered"] + cpu["bpf_submit_failed"] + cpu["userspace_dropped"], cpu
        assert cpu["seq_gaps"] <= cpu["lost"], cpu
    # no stall: a failed submission is as cheap as a successful one (generous bound for a noisy VM)
    assert stopped_ns < 2.0 * running_ns + 1000, (running_ns, stopped_ns)


def test_held_consumer_overflows_the_user_space_queue_and_still_reconciles(tmp_path):
    auid = random.randint(20000, 60000)
    out_path = tmp_path / "ledger.json"
    proc = subprocess.Popen([PYTHON, __file__, str(auid), str(out_path), "held-consumer"],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        if proc.stdout.readline().strip() != "ready":
            pytest.fail(f"capture process did not start (exit {proc.wait()})")
        flood(20_000, auid)
        time.sleep(0.5)  # the reader moves what is in the ring into the (full) queue
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ledger = json.loads(out_path.read_text())
    print(json.dumps(ledger, indent=1))
    assert ledger["emitted"] == 20_000
    assert ledger["reconciled"], ledger["problems"]
    dropped = ledger["layers"]["userspace_dropped"]
    assert dropped > 0 and ledger["delivered"] >= 100  # the queue's 100 were decoded after the release
    assert ledger["emitted"] == ledger["delivered"] + ledger["layers"]["bpf_submit_failed"] + dropped
    # drops after the last record a CPU delivered leave no sequence gap: the ledger counts them anyway
    assert ledger["cross_checks"]["seq_gaps"] <= dropped
    assert sum(c["userspace_dropped"] for c in ledger["per_cpu"]) == dropped


if __name__ == "__main__":
    capture_main(int(sys.argv[1]), sys.argv[2], *sys.argv[3:])
