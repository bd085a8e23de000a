"""tracer/capture/session.py with a fake loaded program: samples through the queue to events, the loss
ledger, user-space rule decisions, and clean detach (no root, no BPF)."""

from __future__ import annotations

import ctypes
import threading
import time

import pytest

import tracer.capture.session as capture
from tracer.capture.session import CaptureOptions, CaptureSession
from tracer.errors import BpfauditError
from tracer.capture.layout import layout
from tracer.capture.loader import Program
from tracer.rules import load_rules
from tracer.syscall_table import AUDIT_ARCH_X86_64, syscall_number

from tests.unit import samples

L = layout()
Record = L.structs["ba_record"]
OPENAT = syscall_number("x86_64", "openat")


class FakePerCpu:
    def __init__(self, values):
        self.values = values

    def __getitem__(self, key):
        return self.values[key.value]


class FakeEvents:
    def __init__(self, fail=False):
        self.fail = fail
        self.sample_cb = self.lost_cb = None
        self.rings_open = False  # the perf-ring transport registered its own rings here

    def open_perf_buffer(self, cb, page_cnt, lost_cb, wakeup_events):
        if self.fail:
            raise RuntimeError("perf buffer refused")
        self.sample_cb, self.lost_cb = cb, lost_cb


class FakeBpf:
    def __init__(self):
        self.raw_tracepoint_fds = {b"sys_enter": 3, b"sys_exit": 4}
        self.polls = 0
        self.cleaned = False

    def perf_buffer_poll(self, timeout_ms):
        self.polls += 1
        time.sleep(0.001)

    def perf_buffer_consume(self):
        pass

    def detach_raw_tracepoint(self, tp):
        del self.raw_tracepoint_fds[tp]

    def cleanup(self):
        self.cleaned = True


class FakeProgram:
    def __init__(self, events):
        self.bpf = FakeBpf()
        self.events = events
        self.counters = [[0, 0] for _ in range(L.BA_NR_COUNTERS)]
        self.startup_notes = ["fake program"]
        self.closed = False

    detach = Program.detach  # the loader's own: detaches the fake bpf's raw tracepoints

    def table(self, name):
        return {"events": self.events, "counters": FakePerCpu(self.counters)}[name]

    def enable(self):
        assert self.events.sample_cb is not None or self.events.rings_open, \
            "syscalls enabled before the perf buffer was open"

    def close(self):
        self.closed = True
        self.bpf.cleanup()
        self.bpf = None


@pytest.fixture
def loaded(monkeypatch):
    """The fake program every session gets, and the arguments load_program saw."""
    state = {"events": FakeEvents()}

    def fake_load(rules, filters, defines=()):
        state["rules"], state["filters"], state["defines"] = rules, filters, list(defines)
        state["program"] = FakeProgram(state["events"])
        return state["program"]

    monkeypatch.setattr(capture, "load_program", fake_load)
    return state


RULES = ["-a never,exit -S openat -F path=/etc/hostname",  # only user space can judge path=
         "-a always,exit -S openat -F auid>=1000 -k user"]


def session(**kw) -> CaptureSession:
    kw.setdefault("transport", "bcc")  # the fake program's events table takes bcc's callbacks
    return CaptureSession(CaptureOptions(rules=load_rules([], kw.pop("rules", RULES)), **kw))


def sample(sess, cpu=0, seq=1, rule=1, flags=0, paths=(), auid=1000, short=False):
    """Delivers one event through bcc's callback; `short`: the smallest event, a header without items."""
    raw = samples.sample(seq=seq, cpu=cpu, rule=rule, flags=flags, auid=auid, pid=1, paths=() if short else paths,
                         exe=None if short else "/usr/bin/cat")
    buf = ctypes.create_string_buffer(raw, len(raw))
    sess.program.table("events").sample_cb(cpu, ctypes.addressof(buf), len(raw))


def test_filters_reach_the_loader_and_rules_are_compiled(loaded):
    with session(pid=42, comm="cat", failed_only=True, syscalls={"openat"}, auid=1000) as s:
        f = loaded["filters"]
        assert (f.pid, f.comm, f.failed_only, f.syscalls, f.auid) == (42, "cat", True, {"openat"}, 1000)
        assert [r.key for r in loaded["rules"]] == [None, "user"]
        assert s.startup_notes == ["fake program"]


def test_samples_become_events_in_order(loaded):
    with session() as s:
        for seq in (1, 2, 3):
            sample(s, seq=seq, paths=[f"/tmp/{seq}"])
        events = s.poll(0)
        assert [(e.seq, e.paths, e.key) for e in events] == [(i, [f"/tmp/{i}"], "user") for i in (1, 2, 3)]
        assert s.poll(0) == []


def test_poll_waits_for_the_reader_thread(loaded):
    with session(drain_ms=20) as s:
        t = threading.Timer(0.05, lambda: sample(s))
        t.start()
        got = []
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            got = s.poll()
        t.join()
        assert len(got) == 1 and loaded["program"].bpf.polls > 0


def test_user_space_decides_candidates_bpf_could_not(loaded):
    with session() as s:
        flag = L.BA_REC_USERSPACE_CHECK
        sample(s, seq=1, rule=0, flags=flag, paths=["/etc/hostname"])  # the never rule matches: dropped
        sample(s, seq=2, rule=0, flags=flag, paths=["/etc/passwd"], auid=1000)  # falls through to rule 1
        sample(s, seq=3, rule=0, flags=flag, paths=["/etc/passwd"], auid=5)  # matches no rule
        events = s.poll(0)
        assert [(e.seq, e.rule, e.key) for e in events] == [(2, 1, "user")]
        assert s.losses()["userspace_filtered"] == 2


def test_the_loss_ledger_counts_each_layer(loaded):
    with session(queue_limit=3) as s:
        counters = loaded["program"].counters
        counters[L.BA_CNT_EMITTED] = [4, 4]
        counters[L.BA_CNT_SUBMIT_FAILED] = [1, 2]
        counters[L.BA_CNT_STASH_FULL] = [0, 5]
        counters[L.BA_CNT_CUT] = [1, 1]
        s.program.table("events").lost_cb(7)
        sample(s, cpu=0, seq=1, paths=[None])  # a name BPF could not read: delivered, flagged cut
        sample(s, cpu=0, seq=4, short=True)  # BPF numbered 2 and 3 but they never arrived
        s.program.table("events").sample_cb(1, ctypes.addressof(ctypes.create_string_buffer(8)), 8)
        sample(s, cpu=1, seq=1)  # the queue holds 3: this one is dropped in user space
        assert len(s.poll(0)) == 2
        assert s.losses() == {
            "emitted": 8, "delivered": 3, "bpf_submit_failed": 3, "perf_lost": 7, "userspace_dropped": 1,
            "queued": 0, "seq_gaps": 2, "malformed": 1, "userspace_filtered": 0, "stash_full": 5,
            "cut": 2, "cut_delivered": 1,
        }
        assert s.counters_per_cpu()["submit_failed"] == [1, 2]


def test_close_detaches_and_cleans_up(loaded):
    s = session()
    prog = loaded["program"]
    bpf = prog.bpf
    s.close()
    assert bpf.raw_tracepoint_fds == {} and bpf.cleaned and prog.closed
    assert s.program is None
    s.close()  # twice is harmless


def test_a_failure_after_loading_detaches(loaded):
    loaded["events"] = FakeEvents(fail=True)
    with pytest.raises(RuntimeError):
        session()
    assert loaded["program"].closed


def test_no_exit_rules_is_an_error_before_loading(loaded):
    with pytest.raises(BpfauditError, match="no exit-list rules"):
        session(rules=["-a always,exclude -F msgtype=CWD"])
    assert "program" not in loaded


# -- the perf-ring transport, its rings in memory --------------------------------
class FakeTransport:
    """What both in-memory transports share: waits recorded, close remembered."""

    def __init__(self):
        self.closed = False
        self.waits = []

    def wait(self, timeout_s):
        self.waits.append(timeout_s)
        time.sleep(min(timeout_s, 0.002))

    def close(self):
        self.closed = True


class FakeRings(FakeTransport):
    def __init__(self, ncpu=2, data_size=1 << 16):
        from tracer.capture.perf_ring import MemoryRing

        super().__init__()
        self.memory = {cpu: MemoryRing(data_size) for cpu in range(ncpu)}
        self.rings = {cpu: m.reader for cpu, m in self.memory.items()}


@pytest.fixture
def rings(loaded, monkeypatch):
    state = {}

    def fake_open(events_map, page_cnt, wakeup_events):
        state["rings"] = FakeRings()
        events_map.rings_open = True
        state["args"] = (events_map, page_cnt, wakeup_events)
        return state["rings"]

    monkeypatch.setattr(capture, "open_perf_rings", fake_open)
    return state


def ring_session(**kw) -> CaptureSession:
    return CaptureSession(CaptureOptions(rules=load_rules([], RULES), transport="perf-ring", **kw))


def raw_sample(cpu, seq, paths=()):
    return samples.sample(seq=seq, cpu=cpu, rule=1, auid=1000, pid=1, paths=paths)


def poll_until(s, n, timeout=5.0):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += s.poll(20)
    return got


def test_ring_samples_become_events_a_batch_per_ring(rings):
    from tracer.capture.perf_ring import sample_record

    with ring_session(page_cnt=8, wakeup_events=16) as s:
        events_map, page_cnt, wakeup = rings["args"]
        assert events_map is s.program.table("events") and (page_cnt, wakeup) == (8, 16)
        mem = rings["rings"].memory
        for seq in range(1, 101):
            mem[seq % 2].write(sample_record(raw_sample(seq % 2, (seq + 1) // 2, paths=[f"/tmp/{seq}"])))
        got = poll_until(s, 100)
        assert sorted((e.cpu, e.seq) for e in got) == sorted((seq % 2, (seq + 1) // 2) for seq in range(1, 101))
        assert all(e.paths == [f"/tmp/{2 * e.seq - e.cpu}"] for e in got)
        assert s.delivery_per_cpu()["delivered"] == {0: 50, 1: 50}
        assert s.losses()["queued"] == 0 and s.losses()["delivered"] == 100
    assert rings["rings"].closed


def test_ring_lost_records_count_per_cpu_and_the_ledger_reconciles(rings):
    from tracer.capture.ledger import LossLedger, read_capture
    from tracer.capture.perf_ring import lost_record, sample_record

    with ring_session() as s:
        counters = s.program.counters
        mem = rings["rings"].memory
        # CPU 1: records 1-3 arrive, 4-8 fail to submit (BPF counts them), then 9 arrives after the LOST record
        for seq in (1, 2, 3):
            mem[1].write(sample_record(raw_sample(1, seq)))
        mem[1].write(lost_record(5))
        mem[1].write(sample_record(raw_sample(1, 9)))
        mem[0].write(sample_record(raw_sample(0, 1)))
        counters[L.BA_CNT_EMITTED] = [1, 9]
        counters[L.BA_CNT_SUBMIT_FAILED] = [0, 5]
        assert len(poll_until(s, 5)) == 5
        s.detach()
        s.poll(0)
        losses = s.losses()
        assert (losses["perf_lost"], losses["seq_gaps"], losses["bpf_submit_failed"]) == (5, 5, 5)
        assert s.delivery_per_cpu()["perf_lost"] == {1: 5}
        ledger = LossLedger()
        ledger.update(read_capture(s))
        rec = ledger.reconcile()
        assert rec.ok, rec.problems
        assert [row["delivered"] for row in ledger.per_cpu] == [1, 4]


def test_ring_records_wait_in_the_ring_until_polled(rings):
    from tracer.capture.perf_ring import sample_record

    with ring_session(queue_limit=10) as s:  # no queue: the limit does not apply, the ring is the buffer
        mem = rings["rings"].memory
        for seq in range(1, 26):
            mem[0].write(sample_record(raw_sample(0, seq)))
        time.sleep(0.05)
        assert s.losses()["queued"] == 0 and rings["rings"].rings[0].pending() > 0
        assert [e.seq for e in s.poll(0)] == list(range(1, 26))
        losses = s.losses()
        assert (losses["delivered"], losses["userspace_dropped"], losses["queued"]) == (25, 0, 0)


def test_poll_waits_for_a_wakeup_even_with_records_pending(rings):
    """A poll that returned at once whenever a record was there would take them a few at a time."""
    from tracer.capture.perf_ring import sample_record

    with ring_session() as s:
        rings["rings"].memory[0].write(sample_record(raw_sample(0, 1)))
        assert [e.seq for e in s.poll(30)] == [1]
        assert rings["rings"].waits == [0.03]
        assert [e.seq for e in s.poll(0)] == [] and rings["rings"].waits == [0.03]  # 0: no wait at all


def test_discard_counts_samples_delivered_without_decoding(rings):
    from tracer.capture.perf_ring import sample_record

    with ring_session() as s:
        for seq in range(1, 8):
            rings["rings"].memory[1].write(sample_record(raw_sample(1, seq)))
        n, deadline = 0, time.monotonic() + 5
        while n < 7 and time.monotonic() < deadline:
            n += s.discard(20)
        assert n == 7 and s.losses()["delivered"] == 7 and s.delivery_per_cpu()["delivered"] == {1: 7}


def test_an_unknown_transport_is_refused(loaded):
    with pytest.raises(BpfauditError, match="transport 'zmq'"):
        CaptureSession(CaptureOptions(rules=load_rules([], RULES), transport="zmq"))
    assert "program" not in loaded


@pytest.mark.parametrize("pages", [0, 3, 1000])
def test_a_ring_size_that_is_not_a_power_of_two_is_refused_before_loading(loaded, pages):
    with pytest.raises(BpfauditError, match="power of two"):
        session(page_cnt=pages, transport="perf-ring")
    assert "program" not in loaded


def test_detach_uses_the_programs_own_detach_when_it_has_one(loaded):
    s = session()
    prog = loaded["program"]
    calls = []
    prog.detach = lambda: calls.append("detach")
    s.close()
    assert calls == ["detach"] and prog.closed


# -- the ringbuf transport: one ring in memory, records of every CPU in it ------------
class FakeRingBuffer(FakeTransport):
    def __init__(self, data_size=1 << 16):
        from tracer.capture.ringbuf import MemoryRingbuf

        super().__init__()
        self.memory = MemoryRingbuf(data_size)
        self.reader = self.memory.reader


@pytest.fixture
def ringbuf(loaded, monkeypatch):
    state = {}

    def fake_open(events_map):
        state["ring"] = FakeRingBuffer()
        events_map.rings_open = True
        events_map.max_entries = 1 << 16
        return state["ring"]

    monkeypatch.setattr(capture, "open_ring_buffer", fake_open)
    return state


def ringbuf_session(**kw) -> CaptureSession:
    return CaptureSession(CaptureOptions(rules=load_rules([], RULES), transport="ringbuf", **kw))


def test_ringbuf_program_is_compiled_for_one_ring_of_the_perf_rings_memory(ringbuf, loaded):
    from tracer.capture.perf_ring import online_cpus

    with ringbuf_session(page_cnt=8, wakeup_events=16) as s:
        pages = 8 * len(online_cpus())
        pages = 1 << (pages - 1).bit_length()
        assert loaded["defines"] == [f"BA_RINGBUF={pages}", "BA_RINGBUF_WAKEUP=16"]
        assert s.transport.startswith("ringbuf transport, BPF ring buffer (16 pages shared, wakeup every 16")
    assert ringbuf["ring"].closed


@pytest.mark.parametrize("wakeup", [3, 100, -1])
def test_a_ringbuf_wakeup_that_is_not_a_power_of_two_is_refused_before_loading(loaded, wakeup):
    with pytest.raises(BpfauditError, match="power of two"):
        ringbuf_session(wakeup_events=wakeup)
    assert "program" not in loaded


def test_ringbuf_records_of_all_cpus_count_by_their_own_cpu_and_the_ledger_reconciles(ringbuf):
    from tracer.capture.ledger import LossLedger, read_capture

    with ringbuf_session() as s:
        mem, counters = ringbuf["ring"].memory, s.program.counters
        # interleaved as two CPUs write one ring; CPU 1's records 4 and 5 failed to submit
        order = [(0, 1), (1, 1), (1, 2), (0, 2), (1, 3), (1, 6), (0, 3), (1, 7)]
        for cpu, seq in order:
            assert mem.output(raw_sample(cpu, seq))
        assert mem.output(raw_sample(0, 4, paths=["/etc/passwd"]))  # a record of another size
        counters[L.BA_CNT_EMITTED] = [4, 7]
        counters[L.BA_CNT_SUBMIT_FAILED] = [0, 2]
        got = poll_until(s, 9)
        assert sorted((e.cpu, e.seq) for e in got) == sorted(order + [(0, 4)])
        assert [e.paths for e in got if e.seq == 4] == [["/etc/passwd"]]
        assert s.delivery_per_cpu()["delivered"] == {0: 4, 1: 5}
        assert s.delivery_per_cpu()["seq_gaps"] == {1: 2}
        s.detach()
        s.poll(0)
        ledger = LossLedger()
        ledger.update(read_capture(s))
        rec = ledger.reconcile()
        assert rec.ok, rec.problems
        assert [(r["delivered"], r["lost"], r["seq_gaps"]) for r in ledger.per_cpu] == [(4, 0, 0), (5, 2, 2)]
        assert s.losses()["perf_lost"] == 0  # a ring buffer writes no LOST records: BPF's count is the one


def test_ringbuf_poll_waits_and_discard_counts_by_cpu(ringbuf):
    with ringbuf_session() as s:
        mem = ringbuf["ring"].memory
        mem.output(raw_sample(1, 1))
        assert [e.seq for e in s.poll(30)] == [1] and ringbuf["ring"].waits == [0.03]
        for seq in range(2, 9):
            mem.output(raw_sample(seq % 2, seq))
        n, deadline = 0, time.monotonic() + 5
        while n < 7 and time.monotonic() < deadline:
            n += s.discard(20)
        assert n == 7 and s.losses()["delivered"] == 8 and s.delivery_per_cpu()["delivered"] == {0: 4, 1: 4}
