"""Rules in the form the BPF programs evaluate (see bpf/rules.h), and the
contract between the rule compiler and the loader that writes the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import FrozenSet, Optional, Tuple


@dataclass(frozen=True)
class FieldCheck:
    """One `-F` comparison BPF can evaluate: 32-bit, as audit_comparator()."""

    type: int  # BA_F_* (the kernel's AUDIT_* field number)
    op: int  # BA_OP_*
    value: int  # unsigned 32-bit


@dataclass(frozen=True)
class KernelRule:
    """One exit-list rule, compiled.

    syscalls are numbers in the table of the rule's arch (None = all), as
    the kernel's per-rule syscall mask: `arch` stays an ordinary field check.
    When `userspace` is set the rule also has fields only Python evaluates:
    BPF emits the record as a candidate and user space decides, continuing
    with the following rules in order when this one does not match.
    """

    action: int  # BA_ACT_ALWAYS or BA_ACT_NEVER
    syscalls: Optional[FrozenSet[int]]
    fields: Tuple[FieldCheck, ...] = ()
    userspace: bool = False
    key: Optional[str] = None
    # the rule's path= or dir= name, normalised as user space compares it: with
    # it BPF drops the syscalls none of whose names can match (bpf/filter.h)
    path_name: Optional[str] = None
    path_kind: Optional[str] = None  # "path" (a watch: also matched by inode, tracer/rules/watch.py) or "dir"
    text: str = ""  # the rule as `auditctl -l` prints it, for messages
    source: object = field(default=None, compare=False)  # the parsed rule
