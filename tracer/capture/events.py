"""The decoded form of one audited syscall, shared by every record consumer
(formatters, the dashboard aggregator, comparisons).

Everything here was read by BPF at the syscall (bpf/record.h): nothing is
looked up in /proc or the filesystem when the record is decoded. Text that a
traced process controls (names, argv, comm, exe, cwd) is kept as str decoded
with "surrogateescape", so the original bytes are always recoverable with
.encode("utf-8", "surrogateescape").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple


@dataclass(slots=True)
class PathItem:
    """One PATH record as kernel audit writes it (kernel/auditsc.c audit_log_name()).

    `name` is what it prints: the name as passed, only its directory part, or the working
    directory (see tracer/capture/names.py); None prints "(null)". The inode fields are None
    when the item has no inode (kernel audit then leaves them out)."""

    name: Optional[str]
    inode: Optional[int] = None
    dev: Optional[int] = None  # the kernel's dev_t: major << 20 | minor
    mode: Optional[int] = None
    ouid: Optional[int] = None
    ogid: Optional[int] = None
    rdev: Optional[int] = None
    nametype: str = "UNKNOWN"  # NORMAL, PARENT, DELETE, CREATE or UNKNOWN


@dataclass(slots=True)
class BprmFcaps:
    """A BPRM_FCAPS record (audit_log_bprm_fcaps()): a successful exec that raised capabilities."""

    fver: int  # the file's capability revision (VFS_CAP_REVISION_*, shifted down)
    fp: int  # the file's permitted and inheritable sets, its effective bit, its root id
    fi: int
    fe: int
    old_pp: int  # the caller's permitted, inheritable, effective and ambient sets before the exec
    old_pi: int
    old_pe: int
    old_pa: int
    pp: int  # the same sets after it
    pi: int
    pe: int
    pa: int
    frootid: int


# slots: the reader builds hundreds of thousands a second, and slots halve the cost of each
@dataclass(slots=True)
class SyscallEvent:
    """One syscall as kernel audit's records describe it: SYSCALL, BPRM_FCAPS, EXECVE, SOCKADDR,
    CWD, PATH and PROCTITLE.

    Field names are those of the JSON-lines output (see README).
    """

    time: float  # wall-clock seconds at syscall entry (kernel audit stamps the entry)
    serial: int  # audit-style event serial, unique across runs (see tracer/serials.py)
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
    exe: Optional[str]  # mm->exe_file's path at the syscall; None: the task has no mm (or unreadable)
    key: Optional[str]  # key of the rule that recorded it, None for "(null)"
    rule: int  # index of the deciding rule in the loaded rule list
    paths: List[Optional[str]] = field(default_factory=list)  # PATH names as passed; None: unreadable
    enter_ns: int = 0  # CLOCK_MONOTONIC at entry
    exit_ns: int = 0  # CLOCK_MONOTONIC at exit
    cpu: int = 0
    seq: int = 0  # per-CPU sequence number from BPF
    per: int = 0  # personality (SYSCALL per=, written when not PER_LINUX)
    cwd: Optional[str] = None  # CWD record: the working directory at the syscall (calls taking a name)
    proctitle: Optional[bytes] = None  # PROCTITLE: argv bytes as kernel audit logs them (NUL-separated, <= 128)
    argv: Optional[List[str]] = None  # EXECVE: the new program's arguments (successful execve only)
    argc: int = 0  # EXECVE argc (the kernel's; more than len(argv) when the arguments were cut)
    sockaddr: Optional[bytes] = None  # SOCKADDR saddr: the address the call passed or got back
    cut: Tuple[str, ...] = ()  # items cut at a cap or unreadable ("argv", "path0", "exe", "objs", ...): never silent
    # PATH records in kernel audit's order; None (an event built without them): one UNKNOWN item per name in paths
    path_items: Optional[List[PathItem]] = None
    bprm_fcaps: Optional[BprmFcaps] = None  # BPRM_FCAPS, when kernel audit would write one

    def __post_init__(self) -> None:
        if self.path_items is None:
            self.path_items = [PathItem(p) for p in self.paths]

    @property
    def duration_ns(self) -> int:
        return self.exit_ns - self.enter_ns


@dataclass
class EventTally:
    """What the dashboard counts of a batch of events, counted without an object per event
    (tracer/formats/native.Tallier): `top` at the ring's rate."""

    events: int = 0
    failures: int = 0
    syscalls: Dict[str, int] = field(default_factory=dict)  # syscall name -> events
    processes: Dict[int, int] = field(default_factory=dict)  # pid -> events
    labels: Dict[int, Tuple[str, Optional[str]]] = field(default_factory=dict)  # pid -> its last (comm, exe)
    auids: Dict[int, int] = field(default_factory=dict)
    keys: Dict[Optional[str], int] = field(default_factory=dict)  # rule key (None: none) -> events
    tail: List[Callable[[], Optional[SyscallEvent]]] = field(default_factory=list)  # the last events, decoded on demand
    # events user space decided: counted as events (they are in `tail` already, in their place)
    decided: List[SyscallEvent] = field(default_factory=list)

    def merge(self, other: "EventTally") -> None:
        self.events += other.events
        self.failures += other.failures
        for mine, theirs in ((self.syscalls, other.syscalls), (self.processes, other.processes),
                             (self.auids, other.auids), (self.keys, other.keys)):
            for k, n in theirs.items():
                mine[k] = mine.get(k, 0) + n
        self.labels.update(other.labels)
        self.tail.extend(other.tail)
        self.decided.extend(other.decided)
