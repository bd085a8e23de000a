"""The ringbuf transport (tracer/capture/ringbuf.py, the program built with -DBA_RINGBUF) against the
real kernel: every record of a flood on all CPUs at once, sharing one ring, delivered or
counted lost per CPU by the records' cpu field. (Same records as the other transports:
test_perf_ring_transport.)"""

from __future__ import annotations

import os
import random
import threading

import pytest

from tracer.capture.session import CaptureOptions, open_capture
from tracer.errors import BpfauditError
from tracer.capture.ledger import LossLedger

from .conftest import bpf_prog_ids
from .test_perf_ring_transport import finish, flood, flood_rule


def test_every_record_of_floods_on_all_cpus_sharing_the_ring_is_delivered_or_counted_per_cpu():
    auid = random.randint(20000, 60000)
    per_cpu = 60_000
    cpus = sorted(os.sched_getaffinity(0))
    with open_capture(CaptureOptions(rules=flood_rule(auid), transport="ringbuf")) as cap:
        ledger = LossLedger()
        floods = [threading.Thread(target=flood, args=(per_cpu, auid, cpu)) for cpu in cpus]
        for t in floods:
            t.start()
        got = 0
        while any(t.is_alive() for t in floods):
            got += len(cap.poll(20))
        for t in floods:
            t.join()
        got += finish(cap, ledger)
        delivered_by_cpu = cap.delivery_per_cpu()["delivered"]
    print(ledger.summary(), ledger.per_cpu)
    assert ledger.emitted == per_cpu * len(cpus)
    rec = ledger.reconcile()
    assert rec.ok, rec.problems
    assert got == ledger.delivered == ledger.emitted - ledger.lost
    assert ledger.capture.perf_lost == 0 and ledger.capture.userspace_dropped == 0
    for row in ledger.per_cpu:
        assert row["emitted"] == row["delivered"] + row["bpf_submit_failed"], row
        assert row["seq_gaps"] <= row["lost"], row
    # every CPU's records came through the one ring, told apart by their cpu field
    assert all(delivered_by_cpu.get(cpu, 0) > 0 for cpu in cpus), delivered_by_cpu


def test_a_consumer_that_stops_reading_loses_in_bpf_counted_per_cpu():
    auid = random.randint(20000, 60000)
    with open_capture(CaptureOptions(rules=flood_rule(auid), transport="ringbuf", page_cnt=1)) as cap:
        ledger = LossLedger()
        flood(20_000, auid)  # nobody reads: one or two pages hold ~20-40 records
        mid = cap.counters()
        assert mid["submit_failed"] > 10_000, mid
        cap.poll(0)
        for cpu in sorted(os.sched_getaffinity(0)):
            flood(5, auid, cpu)  # after the losses: each CPU's next record shows the gap
        finish(cap, ledger)
        failed = cap.counters_per_cpu()["submit_failed"]
    print(ledger.summary(), ledger.per_cpu)
    rec = ledger.reconcile()
    assert rec.ok, rec.problems
    assert ledger.lost == ledger.capture.bpf_submit_failed == sum(failed)
    assert ledger.capture.perf_lost == 0  # no LOST records in a ring buffer: BPF's count is the only one
    assert 0 < ledger.capture.seq_gaps <= ledger.lost


def test_a_failure_after_loading_the_ringbuf_program_leaves_nothing_attached(monkeypatch):
    import tracer.capture.session as capture

    def refuse(events_map):
        raise BpfauditError("no ring today")

    before = set(bpf_prog_ids())
    monkeypatch.setattr(capture, "open_ring_buffer", refuse)
    with pytest.raises(BpfauditError, match="no ring today"):
        open_capture(CaptureOptions(rules=flood_rule(4242), transport="ringbuf"))
    assert set(bpf_prog_ids()) <= before
