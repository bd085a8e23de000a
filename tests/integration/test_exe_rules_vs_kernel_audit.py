"""-F exe= decided from what the kernel gave at the syscall (issue #12): kernel audit and
bpfaudit trace one run at once with the same exe= rule, and select the same events. The
run's programs exec without any recorded execve (so nothing could have told user space
about the new image), run briefly and exit (so /proc would have nothing to say by the
time a record is read), and reuse one binary under two names (a symlink: exe names the
file the kernel ran, not the name used)."""

from __future__ import annotations

import os
import subprocess
from collections import Counter

from tests.integration.both_tracers import trace_session
from tracer.kaudit.records import parse_audit_records

AUID = 1000
CAT = os.path.realpath("/bin/cat")


def _rules(watched: str) -> str:
    # openat only: none of the run's execs is recorded by either tracer
    return (f"-a always,exit -F arch=b64 -S openat -F exe={CAT} -F auid={AUID} -k by-exe\n"
            f"-a always,exit -F arch=b64 -S openat -F dir={watched} -F auid={AUID} -k in-dir\n")


def test_exe_rule_selects_what_kernel_audit_selects(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    (watched / "f").write_text("x\n")
    alias = tmp_path / "kitty"
    alias.symlink_to(CAT)
    # 30 short-lived cats (directly, through the symlink, and exec'd by a shell that first opens
    # something itself), and other programs opening the same file: only the cats match exe=
    script = "; ".join([
        f"for i in $(seq 10); do {CAT} {watched}/f; {alias} {watched}/f; done",
        f"for i in $(seq 10); do sh -c 'exec {CAT} {watched}/f'; done",
        f"for i in $(seq 5); do head -c1 {watched}/f; python3 -c 'open(\"{watched}/f\")'; done",
    ])
    run = trace_session(_rules(str(watched)), ["sh", "-c", script], AUID)

    def key(pid, exe, name, k):
        return (pid, exe, name, k)

    kernel = Counter()
    for e in parse_audit_records(run.kernel_log):
        if e.record("SYSCALL") is None:  # auditd's own records, rule changes
            continue
        sc = e.record("SYSCALL").fields
        if sc.get("ses") != str(run.ses) or e.keys not in (["by-exe"], ["in-dir"]):
            continue
        name = e.all("PATH")[0].fields.get("name", "").strip('"') if e.all("PATH") else None
        kernel[key(int(sc["pid"]), sc["exe"].strip('"'), name, e.keys[0])] += 1
    ours = Counter(key(ev.pid, ev.exe, ev.paths[0] if ev.paths else None, ev.key)
                   for ev in run.events if ev.ses == run.ses)
    by_exe = sum(n for k, n in kernel.items() if k[3] == "by-exe")
    assert by_exe >= 30, kernel  # every cat's opens of its file (and of its libraries)
    assert any(k[1] != CAT for k in kernel), "no non-cat program recorded: the test checks nothing"
    assert ours == kernel
