"""The perf-ring transport (tracer/capture/perf_ring.py) against the real programs: it delivers the
same records as bcc's perf buffer, and every record of a flood is delivered or counted
lost, per CPU, with the rings' own LOST records as the cross-check."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from typing import Optional

import pytest

from tracer.capture.session import CaptureOptions, open_capture
from tracer.errors import BpfauditError
from tracer.capture.ledger import LossLedger, ledger_update
from tracer.rules import parse_text

from .conftest import bpf_prog_ids, set_loginuid
from .test_capture_records import RULES, run_workload

FLOOD = "import os, sys\nf = os.getppid\nfor _ in range(int(sys.argv[1])):\n    f()\n"


def flood(n: int, auid: int, cpu: Optional[int] = None) -> None:
    login = set_loginuid(auid)

    def setup():
        login()
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    subprocess.run([sys.executable, "-c", FLOOD, str(n)], preexec_fn=setup, check=True, timeout=120)


def flood_rule(auid: int):
    return parse_text(f"-a always,exit -F arch=b64 -S getppid -F auid={auid} -k flood")


def finish(cap, ledger: LossLedger) -> int:
    """Detaches, reads what is left, and takes the final ledger reading; returns the events read."""
    cap.detach()
    n = len(cap.poll(0))
    ledger_update(ledger, cap)
    return n


# each transport's run works in its own folder; the names have one length, so that return
# values counting path bytes agree too, and paths differ by this name only
TRANSPORT_DIRS = {"perf-ring": "pr", "bcc": "bc", "ringbuf": "rb"}


def test_every_transport_delivers_the_same_records_of_a_known_workload(workload_bin, tmp_path):
    seen = {}
    for transport, folder in TRANSPORT_DIRS.items():
        with open_capture(CaptureOptions(rules=parse_text(RULES, "t.rules"), wakeup_events=1,
                                         transport=transport)) as cap:
            assert cap.transport.startswith(transport)
            ledger = LossLedger()
            info, events = run_workload(cap, workload_bin, tmp_path / folder, auid=1000)
            finish(cap, ledger)
            rec = ledger.reconcile()
            assert rec.ok, (transport, rec.problems)
            assert ledger.lost == 0 and ledger.in_flight == 0, transport
        assert events and all(e.pid == info["pid"] and e.auid == 1000 for e in events)
        seen[transport] = Counter((e.syscall_name, e.exit if e.syscall_name != "openat" else e.success, e.key,
                                   tuple(p.replace(f"/{folder}/", "/T/") for p in e.paths)) for e in events)
    assert seen["perf-ring"] == seen["bcc"] == seen["ringbuf"]
    assert sum(c for k, c in seen["perf-ring"].items() if k[0] == "getppid") >= 26


def test_every_record_of_a_flood_is_delivered_or_counted_per_cpu():
    auid = random.randint(20000, 60000)  # ours alone: concurrent tests use 1000
    n = 150_000
    with open_capture(CaptureOptions(rules=flood_rule(auid), transport="perf-ring")) as cap:
        ledger = LossLedger()
        proc = subprocess.Popen([sys.executable, "-c", FLOOD, str(n)], preexec_fn=set_loginuid(auid))
        got = 0
        while proc.poll() is None:
            got += len(cap.poll(20))
        assert proc.wait() == 0
        got += finish(cap, ledger)
        per_cpu_perf_lost = cap.delivery_per_cpu()["perf_lost"]
    print(ledger.summary())
    assert ledger.emitted == n
    rec = ledger.reconcile()
    assert rec.ok, rec.problems
    assert got == ledger.delivered == n - ledger.lost
    assert ledger.capture.userspace_dropped == 0 and ledger.capture.queued == 0  # no queue in this transport
    for row in ledger.per_cpu:
        assert row["emitted"] == row["delivered"] + row["bpf_submit_failed"], row
        assert per_cpu_perf_lost.get(row["cpu"], 0) <= row["bpf_submit_failed"], row
    assert got > 0


def test_a_consumer_that_stops_reading_loses_in_bpf_and_the_rings_report_it_per_cpu():
    auid = random.randint(20000, 60000)
    with open_capture(CaptureOptions(rules=flood_rule(auid), transport="perf-ring", page_cnt=2)) as cap:
        ledger = LossLedger()
        flood(20_000, auid)  # nobody reads: the 2-page rings fill after ~40 records
        mid = cap.counters()
        assert mid["submit_failed"] > 10_000, mid
        cap.poll(0)  # room again: the next successful write on each CPU carries its LOST record
        cpus = sorted(os.sched_getaffinity(0))
        for cpu in cpus:
            flood(10, auid, cpu)  # 10 records fit in the emptied 2-page ring
        cap.poll(0)
        finish(cap, ledger)
        per_cpu_perf_lost = cap.delivery_per_cpu()["perf_lost"]
        failed = cap.counters_per_cpu()["submit_failed"]
    print(ledger.summary(), per_cpu_perf_lost)
    rec = ledger.reconcile()
    assert rec.ok, rec.problems
    assert ledger.emitted == 20_000 + 10 * len(cpus) and ledger.lost == ledger.capture.bpf_submit_failed
    # once each CPU's ring was written again, its LOST records name exactly the failed submissions
    assert {cpu: per_cpu_perf_lost.get(cpu, 0) for cpu in cpus} == {cpu: failed[cpu] for cpu in cpus}
    assert ledger.capture.perf_lost == ledger.capture.bpf_submit_failed
    assert 0 < ledger.capture.seq_gaps <= ledger.lost


def test_a_failure_after_loading_leaves_nothing_attached(monkeypatch):
    import tracer.capture.session as capture

    def refuse(events_map, page_cnt, wakeup_events):
        raise BpfauditError("no rings today")

    before = set(bpf_prog_ids())
    monkeypatch.setattr(capture, "open_perf_rings", refuse)
    with pytest.raises(BpfauditError, match="no rings today"):
        open_capture(CaptureOptions(rules=flood_rule(4242), transport="perf-ring"))
    assert set(bpf_prog_ids()) <= before
