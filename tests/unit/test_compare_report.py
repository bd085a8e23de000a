"""`bpfaudit compare`'s pure parts: event normalisation of both engines,
the JSON report built from scripted cells, and its rich rendering."""

from __future__ import annotations

import json
from collections import Counter

from rich.console import Console

from tracer.compare.cells import Cell
from tracer.compare.observe import Observation, audit_observations, bpf_observations, from_syscall_event
from tracer.compare.report import build_report, differences, render_report
from tracer.compare.session import RunResult
from tracer.capture.events import SyscallEvent
from tracer.kaudit.records import parse_audit_records

X86_64 = 0xC000003E


def syscall_event(name="openat", nr=257, key="successful-create", success=True, exit_code=3, auid=1000, ses=7,
                  comm="sh"):
    return SyscallEvent(
        time=1.0, serial=1, arch=X86_64, syscall=nr, syscall_name=name, success=success, exit=exit_code,
        args=[0] * 6, ppid=1, pid=2, tid=2, auid=auid, uid=0, gid=0, euid=0, suid=0, fsuid=0, egid=0, sgid=0,
        fsgid=0, ses=ses, tty="(none)", comm=comm, exe="/bin/sh", key=key, rule=0)


AUDIT_LOG = """\
type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=55 a2=241 a3=1b6 items=2 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=7 comm="sh" exe="/usr/bin/dash" key="successful-create"
type=PATH msg=audit(1700000000.100:10): item=0 name="/tmp/" inode=1 dev=00:01 mode=041777 ouid=0 ogid=0 rdev=00:00 nametype=PARENT
type=SYSCALL msg=audit(1700000000.200:11): arch=c000003e syscall=87 success=no exit=-2 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=7 comm="rm" exe="/usr/bin/rm" key=(null)
type=SYSCALL msg=audit(1700000000.300:12): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=55 a2=241 a3=1b6 items=2 ppid=1 pid=9 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=99 comm="sh" exe="/usr/bin/dash" key="successful-create"
type=LOGIN msg=audit(1700000000.400:13): pid=3 uid=0 subj=unconfined old-auid=4294967295 auid=1000 tty=(none) old-ses=4294967295 ses=7 res=1
type=SYSCALL msg=audit(1700000000.400:13): arch=c000003e syscall=1 success=yes exit=4 a0=3 a1=2 a2=4 a3=0 items=0 ppid=1 pid=3 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=7 comm="python" exe="/usr/bin/python3" key=(null)
type=SYSCALL msg=audit(1700000000.500:14): arch=c000003e syscall=87 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=7 comm="rm" exe="/usr/bin/rm" key=6B31016B32
"""


def test_audit_log_events_become_observations_of_our_sessions_only():
    obs = audit_observations(parse_audit_records(AUDIT_LOG), auid=1000, sessions={7})
    assert obs == Counter({
        Observation("successful-create", "openat", True, 0, "sh"): 1,
        Observation("(none)", "unlink", False, 2, "rm"): 1,  # errno as a positive number
        Observation("k1,k2", "unlink", True, 0, "rm"): 1,  # hex key with \x01 between two keys
    })  # ses 99 (another session) and the LOGIN write are not the workload's rule records


def test_bpf_events_become_the_same_observations():
    events = [syscall_event(), syscall_event(name="unlink", nr=87, key=None, success=False, exit_code=-2, comm="rm"),
              syscall_event(ses=99), syscall_event(auid=1001)]
    obs = bpf_observations(events, auid=1000, sessions={7})
    assert obs == Counter({
        Observation("successful-create", "openat", True, 0, "sh"): 1,
        Observation("(none)", "unlink", False, 2, "rm"): 1,
    })
    assert from_syscall_event(syscall_event(key="a\x01b")).key == "a,b"


def runs(*walls, cpu_factor=0.5):
    return [RunResult(ses=i + 1, pid=100 + i, wall_s=w, cpu_s=w * cpu_factor, returncode=0)
            for i, w in enumerate(walls)]


CREATE = Observation("successful-create", "openat", True, 0, "sh")
DELETE = Observation("successful-delete", "unlinkat", True, 0, "rm")
FAILED = Observation("(none)", "unlink", False, 2, "rm")

LEDGER = {"emitted": 12, "delivered": 12, "lost": 0, "reconciled": True, "layers": {"bpf_submit_failed": 0},
          "cross_checks": {"perf_lost": 0, "seq_gaps": 0},
          "kernel_audit": {"lost_delta": 0, "backlog_max": 0, "backlog_wait_time_actual_delta": 0}}


def cells():
    return [
        Cell("baseline", "", runs(0.10, 0.30, 0.20)),
        Cell("audit", "a.rules", runs(0.25, 0.30, 0.35), Counter({CREATE: 10, DELETE: 10, FAILED: 1}),
             {"lost_delta": 3, "backlog_max": 64, "backlog_wait_time_actual_delta": 120}),
        Cell("bpf", "a.rules", runs(0.22, 0.21, 0.40), Counter({CREATE: 10, DELETE: 9, FAILED: 2}), LEDGER),
    ]


def test_report_has_every_field_and_ratios_to_the_baseline_median():
    report = build_report(cells(), ["sh", "-c", "work"], runs=3, auid=1000, machine={"kernel": "6.18"})
    assert set(report) == {"version", "command", "runs", "auid", "machine", "cells", "per_key_agree", "differences"}
    base, audit, bpf = report["cells"]
    assert set(audit) == {"engine", "rules", "label", "runs", "wall_s_median", "cpu_s_median", "wall_ratio",
                          "cpu_ratio", "records", "by_key", "by_syscall", "losses", "notes"}
    assert base["wall_s_median"] == 0.20 and base["wall_ratio"] == 1.0
    assert audit["wall_ratio"] == 0.30 / 0.20 and audit["cpu_ratio"] == (0.30 * 0.5) / (0.20 * 0.5)
    assert bpf["wall_s_median"] == 0.22
    assert audit["by_key"] == {"(none)": 1, "successful-create": 10, "successful-delete": 10}
    assert bpf["by_syscall"] == {"openat": 10, "unlink": 2, "unlinkat": 9}
    assert audit["records"] == 21 and bpf["records"] == 21
    assert report["per_key_agree"] == {"a.rules": False}
    assert report["differences"] == [  # equally different (by 1): ordered by key
        {"rules": "a.rules", **FAILED.to_dict(), "audit": 1, "bpf": 2},
        {"rules": "a.rules", **DELETE.to_dict(), "audit": 10, "bpf": 9},
    ]
    json.dumps(report)  # serialisable as is


def test_equal_engines_agree_and_have_no_differences():
    same = Counter({CREATE: 4})
    a, b = Cell("audit", "r", runs(1.0), same), Cell("bpf", "r", runs(1.0), Counter(same))
    assert differences(a, b) == []
    report = build_report([a, b], ["true"], 1, 1000)
    assert report["per_key_agree"] == {"r": True}
    assert report["cells"][0]["wall_ratio"] is None  # no baseline cell: no ratio


def test_render_shows_cost_losses_counts_and_differences():
    report = build_report(cells(), ["sh", "-c", "work"], runs=3, auid=1000)
    console = Console(width=160, record=True, color_system=None)
    console.print(render_report(report))
    text = console.export_text()
    assert "median of 3 runs as login uid 1000" in text
    assert "1.50x" in text  # audit wall ratio
    assert "successful-delete" in text and "differ" in text
    assert "differing events (2)" in text
    # the audit cell's kernel counters and the bpf cell's ledger
    lines = [ln for ln in text.splitlines() if ln.startswith("│ audit") or ln.startswith("│ bpf")]
    assert any("64" in ln and "120" in ln for ln in lines)
    assert any("yes" in ln and "12" in ln for ln in lines)
