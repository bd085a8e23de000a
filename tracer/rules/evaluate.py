"""The reference semantics of exit-list rules (kernel/auditsc.c audit_filter_syscall and
audit_filter_rules): first matching rule decides, fields AND, u32 comparisons."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Optional, Sequence

from tracer.rules import perm_classes
from tracer.rules.watch import reached as watch_reached
from tracer.rules.model import NR_SYSCALL_BITS, Cond, Rule
from tracer.rules.support import UNSUPPORTED, classify

MASK32 = 0xFFFFFFFF
AUDITSC_SUCCESS, AUDITSC_FAILURE = 1, 2

# field type -> SyscallEvent attribute
_EVENT_ATTR = {
    0: "pid", 1: "uid", 2: "euid", 3: "suid", 4: "fsuid", 5: "gid", 6: "egid", 7: "sgid",
    8: "fsgid", 9: "auid", 11: "arch", 18: "ppid", 25: "ses",
}
# AUDIT_COMPARE_* (without obj_*) -> the two credentials compared
_COMPARE_ATTRS = {
    10: ("uid", "auid"), 11: ("uid", "euid"), 12: ("uid", "fsuid"), 13: ("uid", "suid"),
    14: ("auid", "fsuid"), 15: ("auid", "suid"), 16: ("auid", "euid"), 17: ("euid", "suid"),
    18: ("euid", "fsuid"), 19: ("suid", "fsuid"), 20: ("gid", "egid"), 21: ("gid", "fsgid"),
    22: ("gid", "sgid"), 23: ("egid", "fsgid"), 24: ("egid", "sgid"), 25: ("sgid", "fsgid"),
}


def comparator(left: int, op: str, right: int) -> bool:
    """audit_comparator(): both sides as u32."""
    a, b = left & MASK32, right & MASK32
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "&":
        return (a & b) != 0
    if op == "&=":
        return (a & b) == b
    raise ValueError(f"unknown operator {op!r}")


# user-space decisions of watch-like rules normalise the same few names over and
# over (the rule's, and one event's against every rule): cached
_normpath = lru_cache(maxsize=8192)(os.path.normpath)


def _path_match(kind: str, want: str, paths: Sequence[str]) -> bool:
    want = _normpath(want)  # dir=/etc/ is accepted by the kernel
    for p in paths:
        if not p or not p.startswith("/"):
            continue  # relative names cannot be placed without the cwd
        p = _normpath(p)
        if p == want or (kind == "dir" and (want == "/" or p.startswith(want + "/"))):
            return True
    return False


def cond_matches(c: Cond, event) -> bool:
    """Whether one condition holds for `event` (unsupported conditions never hold)."""
    t = c.type
    if t in _EVENT_ATTR:
        return comparator(getattr(event, _EVENT_ATTR[t]), c.op, c.value)
    if t == 10:  # pers: BPF checks it in the kernel; events do not carry it, PER_LINUX is 0
        return comparator(getattr(event, "personality", 0), c.op, c.value)
    if t == 24:  # loginuid_set (the kernel's form of auid=-1 / auid!=-1)
        return comparator(int(event.auid != MASK32), c.op, c.value)
    if t == 103:  # exit: the return value truncated to u32
        return comparator(event.exit, c.op, c.value)
    if t == 104:  # success: the kernel compares return_valid with SUCCESS/FAILURE
        have = AUDITSC_SUCCESS if event.success else AUDITSC_FAILURE
        return comparator(have, c.op, AUDITSC_SUCCESS if c.value else AUDITSC_FAILURE)
    if 200 <= t <= 203:  # a0..a3: the raw argument truncated to 32 bits
        args = event.args
        return comparator(args[t - 200] if len(args) > t - 200 else 0, c.op, c.value)
    if c.name == "exe":  # audit_exe_compare; != is the negation, also without an exe
        same = event.exe is not None and os.path.normpath(event.exe) == c.text
        return same if c.op == "=" else not same
    if c.name in ("path", "dir"):
        if c.name == "path" and watch_reached(os.path.normpath(c.text or ""), getattr(event, "path_items", None)):
            return True  # the watched inode, whatever the name (tracer/rules/watch.py)
        return _path_match(c.name, c.text or "", event.paths)
    if c.name == "perm":
        got = perm_classes.match_perm(c.value, event.arch, event.syscall, event.args)
        return True if got is None else got  # openat2: assumed to match (see support.py)
    if c.name == "field_compare" and c.value in _COMPARE_ATTRS:
        left, right = _COMPARE_ATTRS[c.value]
        return comparator(getattr(event, left), c.op, getattr(event, right))
    assert classify(c)[0] == UNSUPPORTED, c
    return False


def rule_matches(rule: Rule, event) -> bool:
    """The syscall is in the rule's mask and every condition holds."""
    nr = event.syscall
    if nr < 0 or nr >= NR_SYSCALL_BITS:
        return False  # audit_in_mask(): outside the mask even for -S all
    if rule.syscalls is not None and nr not in rule.syscalls:
        return False
    return all(cond_matches(c, event) for c in rule.conds)


def evaluate(rules: Sequence[Rule], event, start: int = 0) -> Optional[int]:
    """Index of the first exit-list rule from `start` that matches `event` (a `never` rule
    returns its index too: callers look at its action), None when none matches."""
    for i in range(start, len(rules)):
        rule = rules[i]
        if rule.list == "exit" and rule_matches(rule, event):
            return i
    return None
