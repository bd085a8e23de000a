"""The decoded form of one audited syscall, shared by every record consumer
(formatters, the dashboard aggregator, comparisons)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import List, Optional


# slots: the reader builds hundreds of thousands a second, and slots halve the cost of each
@dataclass(slots=True)
class SyscallEvent:
    """One syscall as kernel audit's SYSCALL (+ PATH) records describe it.

    Field names are those of the JSON-lines output (see README).
    """

    time: float  # wall-clock seconds at syscall exit (audit's timestamp)
    serial: int  # audit-style event serial, unique within a run
    arch: int  # AUDIT_ARCH_* code (0xc000003e for x86_64)
    syscall: int  # syscall number in that arch's table
    syscall_name: str
    success: bool
    exit: int  # return value (negative errno on failure)
    args: List[int]  # a0..a5, unsigned 64-bit
    ppid: int
    pid: int
    tid: int
    auid: int
    uid: int
    gid: int
    euid: int
    suid: int
    fsuid: int
    egid: int
    sgid: int
    fsgid: int
    ses: int
    tty: str  # "(none)" when the task has no controlling terminal
    comm: str
    exe: Optional[str]
    key: Optional[str]  # key of the rule that recorded it, None for "(null)"
    rule: int  # index of the deciding rule in the loaded rule list
    paths: List[str] = field(default_factory=list)
    enter_ns: int = 0  # CLOCK_MONOTONIC at entry
    exit_ns: int = 0  # CLOCK_MONOTONIC at exit
    cpu: int = 0
    seq: int = 0  # per-CPU sequence number from BPF

    @property
    def duration_ns(self) -> int:
        return self.exit_ns - self.enter_ns

    def to_json_dict(self) -> dict:
        d = asdict(self)
        d["duration_ns"] = self.duration_ns
        return d
