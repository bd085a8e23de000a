"""Real syscalls through the real BPF programs: every field of the records of
a workload with known syscalls, run in a login session (auid 1000)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tracer.capture.session import CaptureOptions, open_capture
from tracer.rules import parse_text
from tracer.syscall_table import AUDIT_ARCH_X86_64, syscall_number

from .conftest import bpf_prog_ids, prog_exists, progs_left, set_loginuid

RULES = """
-a always,exit -F arch=b64 -S openat,unlink,execve -F auid>=1000 -F auid!=unset -k files
-a always,exit -F arch=b64 -S getppid -F auid>=1000 -F auid!=unset -k ppid
"""
N_GETPPID = 25
AT_FDCWD = 0xFFFFFF9C  # -100: an int argument, so the upper register half is zero


def _status_ids(pid: int, name: str):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def run_workload(cap, workload_bin, tmp_path, auid):
    """Runs the workload, collecting events until it has exec'd and exited."""
    preexec = set_loginuid(auid) if auid is not None else None
    proc = subprocess.Popen(
        [str(workload_bin), str(tmp_path), str(N_GETPPID)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=preexec,
    )
    line = proc.stdout.readline().split()
    assert len(line) == 4, f"workload printed {line!r}"
    pid, ppid, ses, fd = (int(x) for x in line)
    uids, gids = _status_ids(pid, "Uid"), _status_ids(pid, "Gid")
    events = []
    deadline = time.monotonic() + 5
    # while the workload waits on stdin its records arrive and its exe resolves
    while time.monotonic() < deadline and sum(e.pid == pid for e in events) < N_GETPPID + 5:
        events += cap.poll(100)
    proc.stdin.write("go\n")
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not any(e.pid == pid and e.comm == "true" for e in events):
        events += cap.poll(100)
    return dict(pid=pid, ppid=ppid, ses=ses, fd=fd, uids=uids, gids=gids), [e for e in events if e.pid == pid]


@pytest.fixture(scope="module")
def capture():
    with open_capture(CaptureOptions(rules=parse_text(RULES, "test.rules"), wakeup_events=1)) as cap:
        yield cap


def test_every_field_of_a_login_sessions_syscalls(capture, workload_bin, tmp_path):
    info, events = run_workload(capture, workload_bin, tmp_path, auid=1000)
    pid = info["pid"]
    events.sort(key=lambda e: e.exit_ns)
    # split at the exec of /bin/true: its own loader's records follow
    cut = next(i for i, e in enumerate(events) if e.syscall_name == "execve" and e.paths == ["/bin/true"])
    pre_exec, exec_true, post_exec = events[:cut], events[cut], events[cut + 1 :]
    by_name = {}
    for e in pre_exec:
        by_name.setdefault(e.syscall_name, []).append(e)

    # identity, the same on every record
    for e in events:
        assert e.arch == AUDIT_ARCH_X86_64
        assert (e.pid, e.tid, e.ppid) == (pid, pid, os.getpid()) == (pid, pid, info["ppid"])
        assert e.auid == 1000
        assert e.ses == info["ses"] != 4294967295
        assert [e.uid, e.euid, e.suid, e.fsuid] == info["uids"]
        assert [e.gid, e.egid, e.sgid, e.fsgid] == info["gids"]
        assert e.cpu in range(os.cpu_count())
        assert 0 < e.enter_ns <= e.exit_ns
        assert abs(e.time - time.time()) < 60
    assert all(e.comm == "audit_workload" for e in pre_exec)
    assert all(e.exe == str(workload_bin) for e in pre_exec)

    # the dynamic loader's opens (ld.so.cache, libc) and the workload's read of its
    # session id come first: the raw openat calls under test are the last three
    loader_opens, opens = by_name["openat"][:-3], by_name["openat"][-3:]
    assert all(e.paths[0].startswith(("/etc/ld.so", "/lib", "/usr/lib", "/proc/self/sessionid")) for e in loader_opens)
    assert [e.paths for e in opens] == [["/etc/hostname"], ["/nonexistent/bpfaudit"], [f"{tmp_path}/victim"]]
    ok, missing, created = opens
    assert ok.syscall == syscall_number("x86_64", "openat") == 257
    assert (ok.success, ok.exit, ok.args[0], ok.args[2]) == (True, info["fd"], AT_FDCWD, os.O_RDONLY)
    assert (missing.success, missing.exit) == (False, -2)  # -ENOENT
    assert created.success and created.exit >= 0 and created.args[2] == os.O_CREAT | os.O_WRONLY
    assert all(e.key == "files" and e.rule == 0 for e in opens)

    (unlink,) = by_name["unlink"]
    assert (unlink.syscall, unlink.success, unlink.exit, unlink.paths) == (87, True, 0, [f"{tmp_path}/victim"])

    ppids = by_name["getppid"]
    assert len(ppids) == N_GETPPID + 1  # the loop, and the one for the "pid ppid" line
    assert all(e.syscall == 110 and e.exit == os.getpid() and e.success and e.key == "ppid" and e.rule == 1 for e in ppids)
    assert all(e.paths == [] for e in ppids)

    # the child's exec of the workload itself already runs with auid 1000 (set before exec)
    (start,) = by_name["execve"]
    assert (start.syscall, start.success, start.exit, start.paths) == (59, True, 0, [str(workload_bin)])
    assert (exec_true.syscall, exec_true.success, exec_true.exit) == (59, True, 0)
    # records are written at exit, after the new image is in place
    assert exec_true.comm == "true" and all(e.comm == "true" for e in post_exec)
    assert {e.syscall_name for e in post_exec} <= {"openat"}

    # one record per syscall, numbered without gaps on each CPU
    assert len(pre_exec) == 1 + len(loader_opens) + 3 + 1 + N_GETPPID + 1
    losses = capture.losses()
    assert losses["bpf_submit_failed"] == losses["seq_gaps"] == losses["perf_lost"] == 0


def test_unset_auid_produces_nothing(capture, workload_bin, tmp_path):
    _info, events = run_workload(capture, workload_bin, tmp_path, auid=None)
    assert events == []


def test_never_rule_suppresses_and_first_match_decides(workload_bin, tmp_path):
    rules = parse_text(
        "-a never,exit -F arch=b64 -S getppid -F auid=1000\n"
        "-a always,exit -F arch=b64 -S getppid,openat -F auid>=1000 -F auid!=unset -k later\n",
        "order.rules",
    )
    with open_capture(CaptureOptions(rules=rules, wakeup_events=1)) as cap:
        _info, events = run_workload(cap, workload_bin, tmp_path, auid=1000)
    names = {e.syscall_name for e in events}
    assert "getppid" not in names
    opens = [e for e in events if e.syscall_name == "openat"]
    assert len(opens) >= 3 and {e.key for e in opens} == {"later"}


def test_exit_fields_are_judged_at_exit(workload_bin, tmp_path):
    rules = parse_text(
        "-a always,exit -F arch=b64 -S openat -F exit=-ENOENT -F auid>=1000 -F auid!=unset -k enoent\n",
        "exit.rules",
    )
    with open_capture(CaptureOptions(rules=rules, wakeup_events=1)) as cap:
        _info, events = run_workload(cap, workload_bin, tmp_path, auid=1000)
    assert [(e.paths, e.exit, e.key) for e in events] == [(["/nonexistent/bpfaudit"], -2, "enoent")]


def test_nothing_stays_attached(workload_bin):
    before = set(bpf_prog_ids())  # the module's capture fixture holds programs too
    cap = open_capture(CaptureOptions(rules=parse_text(RULES, "t.rules")))
    ids = [i for i in bpf_prog_ids() if i not in before]
    assert len(ids) >= 2 and all(prog_exists(i) for i in ids)
    cap.close()
    assert progs_left(ids) == []


def test_comm_filter_keeps_only_the_named_task_and_records_its_name():
    # --comm is compared in BPF with the task's NUL-padded comm: a name cut at 15 bytes must match too
    me = os.getpid()
    names = ["bpfa-yes", "bpfa-no", "bpfa-comm-long-name"]
    prog = ("import ctypes, os, sys; ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0); "
            "[os.getppid() for _ in range(5)]")
    for wanted in ("bpfa-yes", "bpfa-comm-long-name"):
        rules = parse_text(f"-a always,exit -F arch=b64 -S getppid -F ppid={me} -k p")
        with open_capture(CaptureOptions(rules=rules, comm=wanted, wakeup_events=1)) as cap:
            pids = {subprocess.run(["python3", "-c", prog + "; print(os.getpid())", n], check=True,
                                   capture_output=True, text=True).stdout.strip(): n for n in names}
            events = []
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                events += cap.poll(100)
        got = {(pids.get(str(e.pid)), e.comm) for e in events if e.syscall_name == "getppid"}
        assert got == {(wanted, wanted[:15])}, (wanted, got)
        assert sum(e.syscall_name == "getppid" for e in events) >= 5


def test_tasks_outside_every_candidates_auid_range_stop_at_the_first_check():
    # the stock pattern: only login sessions count; an unset or too-low auid never reaches rule
    # evaluation (the enter_candidates counter), a login session's calls are recorded
    me = os.getpid()
    rules = parse_text(f"-a always,exit -F arch=b64 -S getppid -F ppid={me} -F auid>=1000 -F auid!=unset -k s")
    prog = "import os; [os.getppid() for _ in range(50)]; print(os.getpid())"
    with open_capture(CaptureOptions(rules=rules, wakeup_events=1)) as cap:
        before = cap.counters()["enter_candidates"]
        outsiders = [subprocess.run(["python3", "-c", prog], check=True, capture_output=True, text=True,
                                    preexec_fn=pre).stdout.strip() for pre in (None, set_loginuid(999))]
        candidates = cap.counters()["enter_candidates"] - before
        member = subprocess.run(["python3", "-c", prog], check=True, capture_output=True, text=True,
                                preexec_fn=set_loginuid(1000)).stdout.strip()
        events = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            events += cap.poll(100)
    got = {str(e.pid) for e in events if e.syscall_name == "getppid"}
    assert got == {member}, (got, outsiders)
    assert sum(str(e.pid) == member for e in events) >= 50
    # other processes' getppid calls may count (this test's own are rejected by ppid, not auid),
    # but not the outsiders' 100: they never got past the auid range
    assert candidates < 50, candidates
