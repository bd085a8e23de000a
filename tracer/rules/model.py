"""Parsed audit rules, kept in the kernel's own terms (field numbers, u32 values, field order)
so that rendering, evaluation and compilation all read the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import FrozenSet, List, Optional, Tuple

# include/uapi/linux/audit.h filter lists
FILTER_USER, FILTER_TASK, FILTER_EXIT, FILTER_EXCLUDE, FILTER_FS, FILTER_URING = 0, 1, 4, 5, 6, 7
LIST_NUMBERS = {
    "user": FILTER_USER,
    "task": FILTER_TASK,
    "exit": FILTER_EXIT,
    "exclude": FILTER_EXCLUDE,
    "filesystem": FILTER_FS,
    "io_uring": FILTER_URING,
}

AUDIT_MAX_KEY_LEN = 256
AUDIT_MAX_FIELDS = 64
NR_SYSCALL_BITS = 64 * 32  # AUDIT_BITMASK_SIZE words of 32 bits
KEY_SEPARATOR = "\x01"

UNSET = 0xFFFFFFFF  # (u32)-1: unset auid / session id


@dataclass(frozen=True)
class Source:
    """Where a rule was written: a file line, or the command line (line 0)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Cond:
    """One `-F` (or `-C`, `-w`, `-p`) condition as the kernel stores it.

    `value` is the u32 the kernel holds; string fields (path, dir, exe,
    subj_*/obj_* contexts) also carry `text`. For `-C` comparisons `name` is
    "field_compare", `value` the AUDIT_COMPARE_* number and `text` "left,right".
    """

    name: str  # canonical field name (auid, not loginuid)
    type: int  # AUDIT_* field number
    op: str  # = != < > <= >= & &=
    value: int
    text: Optional[str] = None
    token: str = ""  # as written, for messages


@dataclass
class Rule:
    """One `-a`/`-A`/`-w` line. `syscalls` None means all (the kernel's full mask)."""

    list: str  # exit, user, task, exclude, filesystem, io_uring
    action: str  # always / never
    syscalls: Optional[FrozenSet[int]]
    conds: List[Cond] = field(default_factory=list)
    keys: List[str] = field(default_factory=list)
    source: Source = Source("<rules>")
    prepend: bool = False  # -A
    from_watch: bool = False  # written as -w
    warnings: List[str] = field(default_factory=list)

    @property
    def key(self) -> Optional[str]:
        """The key as the kernel records it (several -k joined by \\x01), None when none."""
        return KEY_SEPARATOR.join(self.keys) if self.keys else None

    @property
    def text(self) -> str:
        from tracer.rules.canonical import render

        return render(self)

    def identity(self) -> Tuple:
        """What the kernel compares to refuse a duplicate ("Rule exists")."""
        return (
            self.list,
            self.action,
            self.syscalls,
            tuple((c.type, c.op, c.value, c.text) for c in self.conds),
            self.key,
        )


@dataclass(frozen=True)
class Ignored:
    """A line or option that has no meaning for bpfaudit (control option, other list)."""

    source: Source
    text: str
    reason: str
