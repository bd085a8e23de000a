"""path= and dir= rules through the real BPF programs: the records delivered must be
the reference evaluator's decisions, and the names BPF can place itself (empty,
relative, or absolute in normal form outside the rule's name) must never reach
user space."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from types import SimpleNamespace

from tracer.rules import parse_text
from tracer.rules.evaluate import evaluate
from tracer.syscall_table import AUDIT_ARCH_X86_64, syscall_number

from .conftest import WORKLOADS, fed_workload

OPENAT, RENAMEAT = syscall_number("x86_64", "openat"), syscall_number("x86_64", "renameat")
PREFIX_LEN = 64  # bpf/rules.h BA_PREFIX_LEN
SCAN = 256  # bpf/filter.h BA_PATH_SCAN: longer names are left to user space


def bpf_may_match(paths, name: str) -> bool:
    """The specification of BPF's test (bpf/filter.h path_excludes): can user space match?"""
    want = name.encode()[:PREFIX_LEN]
    for p in paths:
        if not p.startswith("/"):
            continue
        if len(p.encode()) >= SCAN or "//" in p or "/." in p or p.encode().startswith(want):
            return True
    return False


def test_path_and_dir_rules_decide_as_the_reference_and_bpf_drops_what_it_can(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    me = os.getpid()
    d, o = str(watched), str(other)
    text = "\n".join([
        f"-a always,exit -F arch=b64 -S openat,renameat -F dir={d} -F ppid={me} -F auid>=1000 -k in-dir",
        f"-a never,exit -F arch=b64 -S openat -F path={o}/quiet -F ppid={me}",
        f"-a always,exit -F arch=b64 -S openat -F dir={o}/ -F ppid={me} -k in-other",
        # no -S: only syscalls with a pathname argument can match it
        f"-a always,exit -F path={o}/any -F ppid={me} -k any-call",
    ])
    ruleset = parse_text(text, "paths.rules")
    long_under = d + "/" + "x" * 100
    calls = [
        ("o", d + "/a"), ("o", d), ("o", d + "/"), ("o", d + "x/a"),  # under, itself, trailing /, sibling
        ("o", "/etc/hostname"), ("o", "/usr/./lib"), ("o", d + "/../watched/b"), ("o", "/" + d + "/c"),
        ("o", "relative-name"), ("o", "/tmp/.hidden"), ("o", long_under), ("o", d + "/" + "y" * 300),
        ("o", o + "/quiet"), ("o", o + "/loud"), ("o", o + "/any"), ("o", o + "x"),
        ("r", "/etc/nothing-here", d + "/new"), ("r", "/etc/a", "/etc/b"), ("r", "rel", o + "/any"),
    ]
    binary = tmp_path / "path_workload"
    subprocess.run(["gcc", "-O1", "-Wall", "-o", str(binary), str(WORKLOADS / "path_workload.c")], check=True)

    pid, events, losses = fed_workload(ruleset, binary, [" ".join(c) for c in calls])
    got = Counter((e.syscall, tuple(e.paths), e.key) for e in events if e.pid == pid)
    want, filtered = Counter(), 0
    rules = ruleset.exit_rules
    for op, *names in calls:
        nr = OPENAT if op == "o" else RENAMEAT
        paths = tuple(names)  # whole names, to PATH_MAX
        event = SimpleNamespace(syscall=nr, arch=AUDIT_ARCH_X86_64, args=[0] * 6, auid=1000, pid=pid,
                                ppid=me, exit=0, success=True, exe=str(binary), paths=list(paths))
        i = evaluate(rules, event)
        if i is not None and rules[i].action == "always":
            want[(nr, paths, rules[i].key)] += 1
        # the first rule BPF cannot rule out sends the record to user space
        first = next((k for k, r in enumerate(rules)
                      if (r.syscalls is None or nr in r.syscalls)
                      and bpf_may_match(paths, os.path.normpath(next(c.text for c in r.conds if c.name in ("path", "dir"))))),
                     None)
        if first is not None and (i is None or rules[i].action == "never"):
            filtered += 1
    assert losses["bpf_submit_failed"] == 0 and losses["seq_gaps"] == 0
    assert got == want, f"rules:\n{text}"
    assert sum(want.values()) >= 8  # the set exercises matches, not only rejections
    # user space judged only what BPF could not: without the prefix test every call above
    # (and the loader's own opens) would have been a user-space candidate
    assert losses["userspace_filtered"] == filtered
    assert filtered < len(calls) // 2
