"""Replay of `bpfaudit trace --format json` output as a dashboard source."""

import json
import time

import pytest
from top_fakes import T0, event

from tracer.errors import BpfauditError
from tracer.formats import jsonl
from tracer.top.sources import ReplaySource, parse_record


def write_trace(path, events):
    with open(path, "w") as f:
        for ev in events:
            f.write(json.dumps(jsonl.to_json_dict(ev)) + "\n")  # what trace --format json writes


def test_round_trip_of_a_json_line_drops_duration_ns():
    ev = event(name="unlinkat", ok=False, exit=-2, key="k", path="/tmp/x")
    ev.enter_ns, ev.exit_ns = 100, 350
    obj = jsonl.to_json_dict(ev)
    assert obj["duration_ns"] == 250
    assert parse_record(json.dumps(obj), "f:1") == ev


def test_fast_replay_returns_one_recorded_second_per_poll(tmp_path):
    path = tmp_path / "trace.jsonl"
    evs = [event(t=T0 + i * 0.25, serial=i) for i in range(12)]  # 3 s of records
    write_trace(path, evs)
    with ReplaySource(str(path), speed=0) as src:
        assert src.clock() == T0
        batches = []
        while not src.finished:
            batches.append(src.poll(10))
            assert all(int(e.time) == int(batches[-1][0].time) for e in batches[-1])
        assert [len(b) for b in batches] == [4, 4, 4]
        assert [e.serial for b in batches for e in b] == list(range(12))
        assert src.clock() == evs[-1].time
        assert src.losses() is None


def test_paced_replay_follows_the_recorded_timestamps(tmp_path):
    path = tmp_path / "trace.jsonl"
    write_trace(path, [event(t=T0 + i * 0.1, serial=i) for i in range(10)])  # 0.9 s of records
    with ReplaySource(str(path), speed=3.0) as src:
        start = time.monotonic()
        got = []
        while not src.finished:
            got += src.poll(50)
        elapsed = time.monotonic() - start
    assert [e.serial for e in got] == list(range(10))
    assert 0.2 <= elapsed < 1.5  # 0.9 recorded seconds at x3


def test_blank_lines_and_unknown_keys_are_tolerated(tmp_path):
    path = tmp_path / "trace.jsonl"
    obj = jsonl.to_json_dict(event())
    obj["added_in_a_later_version"] = 1
    path.write_text("\n" + json.dumps(obj) + "\n\n")
    with ReplaySource(str(path), speed=0) as src:
        assert len(src.poll(10)) == 1


@pytest.mark.parametrize("line,needle", [
    ("{not json", "2: not JSON"),
    ('{"time": 1.0}', "missing"),
    ("[1, 2]", "not a bpfaudit record"),
])
def test_bad_lines_name_the_file_and_line(tmp_path, line, needle):
    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps(jsonl.to_json_dict(event())) + "\n" + line + "\n")
    with pytest.raises(BpfauditError) as err:
        with ReplaySource(str(path), speed=0) as src:
            while not src.finished:
                src.poll(10)
    assert needle in str(err.value) and str(path) in str(err.value)
    assert err.value.exit_code == 2


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(BpfauditError, match="cannot read replay file"):
        with ReplaySource(str(tmp_path / "nope.jsonl")):
            pass


def test_live_source_drives_the_capture_api(monkeypatch):
    import dataclasses
    import sys
    import types

    from tracer.top.sources import LiveSource

    @dataclasses.dataclass
    class CaptureOptions:
        rules: object = None
        pid: int = 0
        transport: str = "perf-ring"

    calls = []

    class Session:
        transport = "perf buffer (fake)"

        def __enter__(self):
            calls.append("enter")
            return self

        def __exit__(self, *exc):
            calls.append("exit")

        def poll(self, timeout_ms):
            calls.append(("poll", timeout_ms))
            return [event()]

        def losses(self):
            return {"perf_lost": 0}

    def open_capture(options):
        calls.append(("open", options))
        return Session()

    fake = types.ModuleType("tracer.capture.session")
    fake.CaptureOptions, fake.open_capture = CaptureOptions, open_capture
    monkeypatch.setitem(sys.modules, "tracer.capture.session", fake)

    ruleset = object()
    # the perf-ring transport: its losses carry the rings' own LOST count (a ring buffer has none)
    with LiveSource(ruleset, "1 rule (x)", pid=42, transport="perf-ring") as src:
        assert src.transport == "perf buffer (fake)"
        assert len(src.poll(50)) == 1 and src.losses() == {"perf_lost": 0}
    assert calls[0] == ("open", CaptureOptions(rules=ruleset, pid=42))
    assert calls[1:] == ["enter", ("poll", 50), "exit"]


# One line `bpfaudit trace --format json` wrote on the development VM (the demo's
# open of a missing file), kept verbatim to hold the replay to the real format.
RECORDED = (
    '{"time":1795356165.714071,"serial":6,"arch":3221225534,"syscall":257,'
    '"syscall_name":"openat","success":false,"exit":-2,'
    '"args":[4294967196,140480411701264,524288,0,0,0],"ppid":1,"pid":23680,"tid":23680,'
    '"auid":4294967295,"uid":0,"gid":0,"euid":0,"suid":0,"fsuid":0,"egid":0,"sgid":0,'
    '"fsgid":0,"ses":4294967295,"tty":"(none)","comm":"python","exe":"/usr/bin/python3.11",'
    '"key":"any","rule":0,"paths":["/tmp/bpfaudit-demo-c9b18_or/missing/nothing-here"],'
    '"enter_ns":4206557309365,"exit_ns":4206557312530,"cpu":1,"seq":5,"duration_ns":3165}'
)


def test_a_recorded_trace_line_replays():
    ev = parse_record(RECORDED, "trace.jsonl:1")
    assert (ev.syscall_name, ev.success, ev.exit, ev.pid, ev.key) == ("openat", False, -2, 23680, "any")
    assert ev.paths == ["/tmp/bpfaudit-demo-c9b18_or/missing/nothing-here"]
    assert ev.duration_ns == 3165
