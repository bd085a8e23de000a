"""`bpfaudit trace` as users run it: a subprocess, real records, ausearch and
aureport on its audit-format output, clean detach on SIGINT/SIGTERM, and one
clear line with exit code 2 when the environment cannot work."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections import Counter

import pytest

from .conftest import ROOT, bpf_prog_ids, prog_exists, progs_left, set_loginuid

BPFAUDIT = [sys.executable, "-m", "tracer"]
ALL_USER_RULE = "-a always,exit -S all -F auid>=1000 -F auid!=unset -k user"


def start_trace(args, **kw):
    proc = subprocess.Popen(BPFAUDIT + ["trace"] + args, cwd=ROOT, stdout=kw.pop("stdout", subprocess.PIPE),
                            stderr=subprocess.PIPE, text=True, **kw)
    # attached once the start-up self-check line is out
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "verified on pid" in line:
            return proc, lines
    proc.kill()
    raise AssertionError("trace did not start: " + "".join(lines))


def stop(proc, sig=signal.SIGINT):
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return out, err


def login_shell(cmd: str, auid: int = 1000):
    return subprocess.run(["/bin/sh", "-c", cmd], preexec_fn=set_loginuid(auid), capture_output=True, text=True)


def test_json_records_of_a_login_shell():
    """The README's example: cat of an existing file, ls of a missing one."""
    proc, _ = start_trace(["--rule", ALL_USER_RULE, "--format", "json"])
    shell = login_shell("cat /etc/hostname; ls /nonexistent; echo $$")
    out, err = stop(proc)
    assert proc.returncode == 0, err
    shell_pid = int(shell.stdout.split()[-1])
    events = [json.loads(line) for line in out.splitlines()]
    mine = [e for e in events if e["ppid"] == shell_pid or e["pid"] == shell_pid]
    assert mine and all(e["auid"] == 1000 for e in mine)
    cat_open = [e for e in mine if e["comm"] == "cat" and e["syscall_name"] == "openat" and e["paths"] == ["/etc/hostname"]]
    assert len(cat_open) == 1 and cat_open[0]["success"] is True and cat_open[0]["exit"] >= 0
    ls_missing = [e for e in mine if e["comm"] == "ls" and e["paths"] == ["/nonexistent"]]
    assert ls_missing and all(e["success"] is False and e["exit"] == -2 for e in ls_missing)
    assert {e["key"] for e in mine} == {"user"}
    summary = err.strip().splitlines()[-1]
    assert " 0 lost " in summary and "reconciled" in summary, summary
    # every record delivered to user space is written, also the batch in hand at Ctrl-C
    delivered = int(summary.split(" delivered")[0].split()[-1])
    assert len(events) == delivered


def test_audit_format_is_read_by_ausearch_and_aureport(tmp_path, workload_bin):
    trail = tmp_path / "trail.log"
    proc, _ = start_trace(["--rule", ALL_USER_RULE, "-o", str(trail)])
    wl = subprocess.Popen([str(workload_bin), str(tmp_path), "5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True, preexec_fn=set_loginuid(1000))
    pid = int(wl.stdout.readline().split()[0])
    wl.communicate("go\n", timeout=10)
    time.sleep(0.5)
    stop(proc)
    assert proc.returncode == 0
    assert stat.S_IMODE(trail.stat().st_mode) == 0o600
    by_pid = subprocess.run(["ausearch", "-if", str(trail), "-p", str(pid), "--raw"], capture_output=True, text=True)
    assert by_pid.returncode == 0, by_pid.stderr
    assert by_pid.stdout.count("type=SYSCALL") >= 30
    by_call = subprocess.run(["ausearch", "-if", str(trail), "-p", str(pid), "-sc", "unlink", "-i"],
                             capture_output=True, text=True)
    assert by_call.returncode == 0, by_call.stderr
    assert "syscall=unlink" in by_call.stdout and "name=" in by_call.stdout and "/victim" in by_call.stdout
    failed = subprocess.run(["ausearch", "-if", str(trail), "-p", str(pid), "-sv", "no", "--raw"],
                            capture_output=True, text=True)
    assert "/nonexistent/bpfaudit" in bytes.fromhex(failed.stdout.split("name=")[1].split()[0]).decode() \
        if 'name="' not in failed.stdout else "/nonexistent/bpfaudit" in failed.stdout
    report = subprocess.run(["aureport", "-if", str(trail), "--syscall", "--summary"], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    assert "getppid" in report.stdout or "110" in report.stdout


def test_transport_perf_ring_delivers_the_same_records_as_the_default():
    """Two traces at once, the default (ringbuf) and --transport perf-ring, watching one login shell."""
    auid = random.randint(20000, 60000)  # this test's records only: concurrent tests use 1000
    rule = f"-a always,exit -S all -F auid={auid} -k tr"
    traces = {}
    for transport in ("perf-ring", "ringbuf"):
        args = ["--rule", rule, "--format", "json"] + ([] if transport == "ringbuf" else ["--transport", transport])
        traces[transport] = start_trace(args)
    shell = login_shell("cat /etc/hostname; ls /nonexistent; echo $$", auid)
    time.sleep(0.3)  # past one drain interval: records still in a ring are also taken at exit
    seen = {}
    for transport, (proc, started) in traces.items():
        out, err = stop(proc)
        assert proc.returncode == 0, err
        assert f"; {transport} transport" in "".join(started), started
        summary = err.strip().splitlines()[-1]
        assert " 0 lost " in summary and "reconciled" in summary, summary
        events = [json.loads(line) for line in out.splitlines()]
        seen[transport] = Counter((e["pid"], e["tid"], e["syscall_name"], e["success"], e["exit"],
                                   tuple(e["paths"]), e["key"]) for e in events)
    shell_pid = int(shell.stdout.split()[-1])
    assert seen["perf-ring"] == seen["ringbuf"]
    assert shell_pid in {k[0] for k in seen["ringbuf"]}
    assert any(k[2] == "openat" and k[5] == ("/etc/hostname",) and k[3] for k in seen["ringbuf"])
    assert any(k[5] == ("/nonexistent",) and k[4] == -2 for k in seen["ringbuf"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_detach_everything(sig):
    proc, _ = start_trace(["--rule", ALL_USER_RULE, "--format", "json"])
    ids = bpf_prog_ids(proc.pid)
    assert len(ids) >= 2 and all(prog_exists(i) for i in ids)
    _out, err = stop(proc, sig)
    assert proc.returncode == 0, err
    summary = err.strip().splitlines()[-1]
    assert " 0 lost " in summary and "reconciled" in summary, summary
    assert progs_left(ids) == []


def _fails_cleanly(args, env=None, user=None):
    before = set(bpf_prog_ids())
    r = subprocess.run(BPFAUDIT + args, cwd=ROOT, capture_output=True, text=True, env=env, user=user)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("bpfaudit: "), r.stderr
    assert set(bpf_prog_ids()) == before
    return lines[0]


def test_no_root_is_one_line_and_exit_2():
    msg = _fails_cleanly(["trace", "--duration", "1"], user=65534)
    assert "root" in msg and "sudo" in msg


def test_no_btf_is_one_line_and_exit_2():
    env = dict(os.environ, BPFAUDIT_BTF="/nonexistent/vmlinux")
    msg = _fails_cleanly(["trace", "--duration", "1"], env=env)
    assert "BTF" in msg


def test_missing_bcc_is_one_line_and_exit_2(tmp_path):
    # a `bcc` package that fails to import, shadowing the distribution's
    fake = tmp_path / "bcc"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('no bcc here')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    msg = _fails_cleanly(["trace", "--duration", "1"], env=env)
    assert "python3-bpfcc" in msg


def test_output_file_is_never_written_through_a_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    link = tmp_path / "trail.log"
    link.symlink_to(target)
    msg = _fails_cleanly(["trace", "--duration", "1", "-o", str(link)])
    assert "symlink" in msg and target.read_text() == "keep"


def test_resident_memory_a_second_after_start():
    """Issue 14: a long-running trace gives back what only compiling needed
    (tracer/capture/lean.py) and says so. Measured 78-79 MiB resident here (was 181-193 MiB;
    the issue's target: 80); the bound leaves room for other distributions' libraries."""
    proc, lines = start_trace(["--rule", ALL_USER_RULE])
    note = proc.stderr.readline()  # the start-up note after the self-check's
    time.sleep(1)
    with open(f"/proc/{proc.pid}/status") as f:
        rss_mb = int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) // 1024
    out, err = stop(proc)
    assert proc.returncode == 0, err
    assert "MB for the run" in note, note
    assert rss_mb <= 85, f"{rss_mb} MiB resident; {note.strip()}"


def _flood(n: int = 100_000):
    """n getppid calls from a login session (auid 1000)."""
    return login_shell(f"{sys.executable} -c 'import os\nfor _ in range({n}): os.getppid()'")


GETPPID_RULE = "-a always,exit -S getppid -F auid>=1000 -F auid!=unset -k gp"


def test_a_full_filesystem_ends_the_run_with_one_line_and_a_whole_ledger(tmp_path):
    """Issue 15: -o on a full filesystem: one line naming the file and the error, exit 1, the loss
    line and --stats-json still written with the records not written counted, and the file
    ending on a whole event."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        trail, stats = small / "trail.log", tmp_path / "stats.json"
        proc, _ = start_trace(["--rule", GETPPID_RULE, "-o", str(trail), "--stats-json", str(stats)])
        _flood()
        time.sleep(1.5)  # at least one timed flush meets the full disk
        out, err = stop(proc)
        assert proc.returncode == 1, err
        assert "Traceback" not in err
        last = err.strip().splitlines()[-1]
        assert last.startswith(f"bpfaudit: writing {trail} failed: No space left on device"), last
        ledger = json.loads(stats.read_text())
        assert ledger["write_error"] == "No space left on device" and ledger["unwritten"] > 0
        assert ledger["loss_ratio"] > 0 and "reconciled" in err
        text = trail.read_bytes()
        assert text.endswith(b"\n")
        written = text.count(b"type=SYSCALL ")
        assert written == text.count(b"type=PROCTITLE ") > 0  # no event cut in half
        assert written + ledger["unwritten"] == ledger["delivered"]
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_standard_output_to_dev_full_is_one_line_not_a_traceback():
    with open("/dev/full", "wb") as full:
        proc, _ = start_trace(["--rule", GETPPID_RULE], stdout=full)
        _flood(20_000)
        try:  # the write error ends the run by itself
            err = proc.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            err = stop(proc)[1]
    assert proc.returncode == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("bpfaudit: writing standard output failed: No space left")


def test_a_closed_pipe_ends_quietly():
    """`trace | head -1`: the reader goes away; trace ends with the ledger, no error, exit 0."""
    reader = subprocess.Popen(["head", "-c", "100"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    proc, _ = start_trace(["--rule", GETPPID_RULE], stdout=reader.stdin)
    reader.stdin.close()
    _flood(200_000)
    try:  # the closed pipe ends the run by itself
        err = proc.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        err = stop(proc)[1]
    reader.wait(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "failed" not in err and "Error" not in err
    summary = err.strip().splitlines()[-1]
    assert "not written (Broken pipe)" in summary and "reconciled" in summary, summary


def test_a_trail_whose_directory_is_removed_is_reported(tmp_path):
    """Issue 15: records written into a file no name reaches any more are at least reported."""
    where = tmp_path / "logs"
    where.mkdir()
    proc, _ = start_trace(["--rule", GETPPID_RULE, "-o", str(where / "trail.log")])
    _flood(1000)
    subprocess.run(["rm", "-rf", str(where)], check=True)
    out, err = stop(proc)
    assert proc.returncode == 0, err
    assert f"warning: {where / 'trail.log'} was removed or replaced" in err, err
