"""The immutable state the dashboard draws: everything render() needs, nothing
it has to compute from live structures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class TopRow:
    """One line of a top table: the key's display cells, its count and rate."""

    cells: Tuple[str, ...]
    count: int
    rate: float  # per second over the counter's window


@dataclass(frozen=True)
class TopTable:
    title: str
    columns: Tuple[str, ...]  # headers of `cells`; count and rate follow
    rows: Tuple[TopRow, ...]
    other: int = 0  # records of keys folded away by the memory cap
    total: int = 0  # records counted in this table


@dataclass(frozen=True)
class TailRow:
    """One of the latest records, already reduced to display text."""

    time: float
    auid: str
    pid: int
    comm: str
    syscall: str
    success: bool
    result: str  # exit value, or the errno name on failure
    path: str


@dataclass(frozen=True)
class LossCounter:
    """One place records can be lost: cumulative total and recent rate.

    total is None when the source cannot report it (shown as "n/a").
    """

    name: str
    total: Optional[int]
    rate: float = 0.0
    losing: bool = False  # it grew within the hold window


@dataclass(frozen=True)
class KernelAudit:
    """Kernel audit's own counters (`auditctl -s`), for comparison."""

    available: bool
    lost: Optional[int] = None
    lost_rate: float = 0.0
    losing: bool = False
    backlog: Optional[int] = None
    backlog_limit: Optional[int] = None
    enabled: Optional[int] = None
    reason: str = ""  # why it is unavailable


@dataclass(frozen=True)
class Snapshot:
    now: float
    uptime: float
    rules: str  # "12 rules (built-in default)"
    transport: str
    events: int
    failures: int
    rate_now: float  # events in the last completed second
    sparkline: Tuple[int, ...]  # events per second, oldest first
    syscalls: TopTable
    processes: TopTable
    auids: TopTable
    keys: TopTable
    tail: Tuple[TailRow, ...]  # newest last
    losses: Tuple[LossCounter, ...]
    kaudit: KernelAudit
    emitted: Optional[int] = None
    delivered: Optional[int] = None
    sort: str = "count"  # or "rate"
    paused: bool = False
    finished: str = ""  # why the source ended (replay at end of file), if it did

    @property
    def losing(self) -> bool:
        """Anything is being lost right now (any counter grew recently)."""
        return any(c.losing for c in self.losses) or self.kaudit.losing

    @property
    def lost_ever(self) -> bool:
        return any(c.total for c in self.losses) or bool(self.kaudit.lost)
