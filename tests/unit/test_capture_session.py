"""tracer/capture.py with a fake loaded program: samples through the queue to events, the loss
ledger, user-space rule decisions, and clean detach (no root, no BPF)."""

from __future__ import annotations

import ctypes
import threading
import time

import pytest

import tracer.capture as capture
from tracer.capture import CaptureOptions, CaptureSession
from tracer.errors import BpfauditError
from tracer.layout import layout
from tracer.rules import load_rules
from tracer.syscall_table import AUDIT_ARCH_X86_64, syscall_number

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

    def open_perf_buffer(self, cb, page_cnt, lost_cb, wakeup_events):
        if self.fail:
            raise RuntimeError("perf buffer refused")
        self.sample_cb, self.lost_cb = cb, lost_cb


class FakeBpf:
    def __init__(self):
        self.tracepoint_fds = {b"raw_syscalls:sys_enter": 3, b"raw_syscalls:sys_exit": 4}
        self.polls = 0
        self.cleaned = False

    def perf_buffer_poll(self, timeout_ms):
        self.polls += 1
        time.sleep(0.001)

    def perf_buffer_consume(self):
        pass

    def detach_tracepoint(self, tp):
        del self.tracepoint_fds[tp]

    def cleanup(self):
        self.cleaned = True


class FakeProgram:
    def __init__(self, events):
        self.bpf = FakeBpf()
        self.events = events
        self.counters = [[0, 0] for _ in range(L.BA_NR_COUNTERS)]
        self.startup_notes = ["fake program"]
        self.closed = False

    def table(self, name):
        return {"events": self.events, "counters": FakePerCpu(self.counters)}[name]

    def enable(self):
        assert self.events.sample_cb is not None, "syscalls enabled before the perf buffer was open"

    def close(self):
        self.closed = True
        self.bpf.cleanup()
        self.bpf = None


@pytest.fixture
def loaded(monkeypatch):
    """The fake program every session gets, and the arguments load_program saw."""
    state = {"events": FakeEvents()}

    def fake_load(rules, filters):
        state["rules"], state["filters"] = rules, filters
        state["program"] = FakeProgram(state["events"])
        return state["program"]

    monkeypatch.setattr(capture, "load_program", fake_load)
    return state


RULES = ["-a never,exit -S openat -F path=/etc/hostname",  # only user space can judge path=
         "-a always,exit -S openat -F auid>=1000 -k user"]


def session(**kw) -> CaptureSession:
    return CaptureSession(CaptureOptions(rules=load_rules([], kw.pop("rules", RULES)), **kw))


def sample(sess, cpu=0, seq=1, rule=1, flags=0, paths=(), auid=1000, short=False):
    r = Record()
    r.seq, r.cpu, r.arch, r.syscall, r.exit, r.rule, r.flags, r.auid = (
        seq, cpu, AUDIT_ARCH_X86_64, OPENAT, 3, rule, flags, auid)
    r.pid = 1
    r.n_paths = len(paths)
    for i, p in enumerate(paths):
        ctypes.memmove(ctypes.addressof(r) + Record.path.offset + i * L.BA_PATH_LEN, p.encode(), len(p))
        r.path_len[i] = len(p) + 1
    raw = bytes(r)[: L.BA_RECORD_HDR_SIZE] if short else bytes(r)
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
        s.program.table("events").lost_cb(7)
        sample(s, cpu=0, seq=1)
        sample(s, cpu=0, seq=4, short=True)  # BPF numbered 2 and 3 but they never arrived
        s.program.table("events").sample_cb(1, ctypes.addressof(ctypes.create_string_buffer(8)), 8)
        sample(s, cpu=1, seq=1)  # the queue holds 3: this one is dropped in user space
        assert len(s.poll(0)) == 2
        assert s.losses() == {
            "emitted": 8, "delivered": 3, "bpf_submit_failed": 3, "perf_lost": 7, "userspace_dropped": 1,
            "queued": 0, "seq_gaps": 2, "malformed": 1, "userspace_filtered": 0, "stash_full": 5,
        }
        assert s.counters_per_cpu()["submit_failed"] == [1, 2]


def test_close_detaches_and_cleans_up(loaded):
    s = session()
    prog = loaded["program"]
    bpf = prog.bpf
    s.close()
    assert bpf.tracepoint_fds == {} and bpf.cleaned and prog.closed
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
