"""Kernel audit switched between benchmark configurations, inside one kernel_audit_session.

Outside the kernel audit configurations a `-a never,task` rule is loaded: a
process forked under it gets no audit context, so its syscalls take the
kernel's fast path as on a machine where audit was never enabled. (Once audit
has been enabled since boot, every new task otherwise carries an audit
context and its syscalls the slow entry path, even with audit disabled.)
"""

from __future__ import annotations

import contextlib
import glob
from typing import Iterator, List, Tuple

from tracer.kaudit import netlink
from tracer.kaudit.state import auditctl, kernel_audit_session, load_rules

NEVER_TASK = ("-a", "never,task")
BENCH_RULE = "-a always,exit -F arch=b64 -S getppid -F auid>=1000 -F auid!=unset -k bench"
# S6: every exec of a login session (the key only to count auditd's records)
EXEC_RULE = "-a always,exit -F arch=b64 -S execve,execveat -F auid>=1000 -F auid!=unset -k bench"
# S7: every openat of a login session (close is not listed: one record per open)
OPEN_RULE = "-a always,exit -F arch=b64 -S openat -F auid>=1000 -F auid!=unset -k bench"
STOCK_GLOB = "/usr/share/doc/auditd/examples/rules/30-ospp-v42*.rules"


def stock_rule_lines(pattern: str = STOCK_GLOB) -> Tuple[List[str], List[str]]:
    """The `-a` lines of the OSPP v4.2 example rules (what augenrules would load), and the files."""
    files = sorted(glob.glob(pattern))
    lines: List[str] = []
    for path in files:
        with open(path) as f:
            lines += [ln.strip() for ln in f if ln.startswith("-a ")]
    return lines, files


def load_exit_rules(lines: List[str]) -> Tuple[List[str], List[str]]:
    """Loads rule lines into the kernel; returns (loaded, refused as 'line: why').

    The kernel refuses some stock lines on this machine (a dir= watch on a
    missing directory); both sides of the comparison then use only `loaded`.
    """
    result = load_rules(lines, only_rules=True, strict=False)
    return result.loaded, [f"{e.line}: {e.message}" for e in result.errors]


def prepare_stock_rules() -> Tuple[List[str], List[str], List[str]]:
    """Inside a kernel_audit_session: no rules, audit off, the stock `-a` lines loaded
    and new processes on the fast path. Returns (loaded, refused, files)."""
    lines, files = stock_rule_lines()
    auditctl("-D")
    set_enabled(0)
    loaded, refused = load_exit_rules(lines)
    fast_path(True)
    return loaded, refused, files


@contextlib.contextmanager
def one_rule_session(line: str) -> Iterator[object]:
    """A kernel_audit_session with only `line` loaded, audit off and new processes on the fast
    path (S2, S6, S7); yields the state found, restored afterwards."""
    with kernel_audit_session() as before:
        auditctl("-D")
        set_enabled(0)
        add_rule(line)
        fast_path(True)
        yield before


def fast_path(on: bool) -> None:
    """Adds (on) or deletes the `-a never,task` rule: new processes get no audit context."""
    auditctl("-a" if on else "-d", NEVER_TASK[1])


def add_rule(line: str) -> None:
    auditctl(*line.split())


def delete_rule(line: str) -> None:
    args = line.split()
    auditctl("-d", *args[1:])


def set_enabled(value: int) -> None:
    netlink.set_enabled(value)


def lost() -> int:
    return netlink.audit_status().lost
