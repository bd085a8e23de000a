"""Turns batches of SyscallEvent from any source into dashboard snapshots, with
O(1) work per record and memory bounded whatever the run length."""

from __future__ import annotations

import errno
import pwd
from collections import deque
from typing import Callable, Deque, Dict, List, Mapping, Optional, Tuple

from tracer.capture.events import EventTally, SyscallEvent
from tracer.top.counters import SecondBuckets, TopCounter
from tracer.top.snapshot import KernelAudit, LossCounter, Snapshot, TailRow, TopRow, TopTable

AUID_UNSET = 4294967295

# Loss counters of the capture (CaptureOptions/losses() keys), in panel order.
LOSS_KEYS: Tuple[Tuple[str, str], ...] = (
    ("bpf_submit_failed", "BPF submit failed"),
    ("perf_lost", "ring buffer lost"),
    ("userspace_dropped", "user-space dropped"),
    ("seq_gaps", "sequence gaps"),
)
# Further places a capture may lose records (enter records that could not
# get the thread's stash, samples that failed to decode): one summed column, shown
# only when the source reports them.
EXTRA_LOSS_KEYS: Tuple[str, ...] = ("stash_full", "malformed")
EXTRA_LOSS_NAME = "stash full + malformed"


def user_name(auid: int, _cache: Dict[int, str] = {}) -> str:
    """auid as ausearch -i shows it: the login name, "unset", or the number."""
    if auid == AUID_UNSET or auid == -1:
        return "unset"
    name = _cache.get(auid)
    if name is None:
        try:
            name = pwd.getpwuid(auid).pw_name
        except (KeyError, OverflowError):
            name = str(auid)
        if len(_cache) > 4096:  # bounded like everything else here
            _cache.clear()
        _cache[auid] = name
    return name


def result_text(ev: SyscallEvent) -> str:
    if ev.success:
        return str(ev.exit)
    return errno.errorcode.get(-ev.exit, str(ev.exit))


class _CumulativeRate:
    """Rate and "grew recently" of a cumulative counter sampled now and then."""

    def __init__(self, window: float):
        self.window = window
        self.samples: Deque[Tuple[float, int]] = deque()
        self.last_growth: Optional[float] = None

    def sample(self, now: float, value: int) -> None:
        if self.samples and value > self.samples[-1][1]:
            self.last_growth = now
        self.samples.append((now, value))
        # keep one sample at least `window` old to measure from
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()

    def latest(self) -> Optional[int]:
        return self.samples[-1][1] if self.samples else None

    def rate(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, v0), (t1, v1) = self.samples[0], self.samples[-1]
        return (v1 - v0) / (t1 - t0) if t1 > t0 else 0.0

    def losing(self, now: float) -> bool:
        return self.last_growth is not None and now - self.last_growth <= self.window


class Aggregator:
    """Consumes events (feed), loss counters (observe_*) and time (tick)."""

    def __init__(
        self,
        *,
        rules: str = "",
        transport: str = "",
        start: float,
        cap: int = 256,
        tail: int = 200,
        rate_window: int = 5,
        user_name: Callable[[int], str] = user_name,
    ):
        self.rules = rules
        self.transport = transport
        self.start = start
        self.now = start
        self.rate_window = rate_window
        self.user_name = user_name
        self.events = 0
        self.failures = 0
        self.per_second = SecondBuckets(60)
        self.per_second.advance(start)
        self.syscalls = TopCounter(cap, rate_window)
        self.processes = TopCounter(cap, rate_window)
        self.auids = TopCounter(cap, rate_window)
        self.keys = TopCounter(cap, rate_window)
        self.tail: Deque[SyscallEvent] = deque(maxlen=tail)
        self.loss_rates: Dict[str, _CumulativeRate] = {
            k: _CumulativeRate(rate_window) for k, _ in LOSS_KEYS
        }
        self.loss_totals: Dict[str, Optional[int]] = {k: None for k, _ in LOSS_KEYS}
        self.extra_loss = _CumulativeRate(rate_window)
        self.emitted: Optional[int] = None
        self.delivered: Optional[int] = None
        self.kaudit_lost = _CumulativeRate(rate_window)
        self.kaudit = KernelAudit(available=False, reason="not polled yet")
        self.finished = ""

    # --- inputs -----------------------------------------------------------
    def tick(self, now: float) -> None:
        """Advance the clock: closes per-second buckets even with no events."""
        if now <= self.now:
            return
        old = int(self.now)
        self.now = now
        passed = int(now) - old
        if passed > 0:
            self.per_second.advance(now)
            for c in (self.syscalls, self.processes, self.auids, self.keys):
                c.roll(passed)

    def feed(self, events, now: float, tail: bool = True) -> None:
        """Count a batch that arrived at `now` (the source's clock): SyscallEvents, or an
        EventTally (a live capture's batch counted by the compiled core). `tail`: also add the
        events to the tail."""
        if isinstance(events, EventTally):
            self._feed_tally(events, now)
            return
        self.tick(now)
        n = 0
        failures = 0
        syscalls, processes, auids, keys = self.syscalls, self.processes, self.auids, self.keys
        tail = self.tail if tail else None
        for ev in events:
            n += 1
            if not ev.success:
                failures += 1
            syscalls.add(ev.syscall_name or f"syscall {ev.syscall}")
            processes.add(ev.pid, (ev.comm, ev.exe))
            auids.add(ev.auid)
            keys.add(ev.key)
            if tail is not None:
                tail.append(ev)
        self.events += n
        self.failures += failures
        self.per_second.add(n)

    def _feed_tally(self, t: EventTally, now: float) -> None:
        self.tick(now)
        for name, n in t.syscalls.items():
            self.syscalls.add(name, None, n)
        for pid, n in t.processes.items():
            self.processes.add(pid, t.labels.get(pid), n)
        for auid, n in t.auids.items():
            self.auids.add(auid, None, n)
        for key, n in t.keys.items():
            self.keys.add(key, None, n)
        self.tail.extend(t.tail[-(self.tail.maxlen or 0):])  # decoded when shown (snapshot())
        self.events += t.events
        self.failures += t.failures
        self.per_second.add(t.events)
        if t.decided:
            self.feed(t.decided, now, tail=False)

    def observe_losses(self, losses: Optional[Mapping[str, int]], now: float) -> None:
        """Sample the source's cumulative loss counters (None: it has none)."""
        if losses is None:
            return
        for key, _ in LOSS_KEYS:
            if key in losses:
                self.loss_totals[key] = int(losses[key])
                self.loss_rates[key].sample(now, int(losses[key]))
        extra = [int(losses[k]) for k in EXTRA_LOSS_KEYS if k in losses]
        if extra:
            self.extra_loss.sample(now, sum(extra))
        self.emitted = losses.get("emitted", self.emitted)
        self.delivered = losses.get("delivered", self.delivered)

    def observe_kaudit(self, status: object, now: float, reason: str = "") -> None:
        """Sample kernel audit's status (an object with .lost and .backlog), or
        record why it is unavailable when status is None."""
        if status is None:
            self.kaudit = KernelAudit(available=False, reason=reason or "n/a")
            return
        lost = int(getattr(status, "lost"))
        self.kaudit_lost.sample(now, lost)
        self.kaudit = KernelAudit(
            available=True,
            lost=lost,
            backlog=int(getattr(status, "backlog")),
            backlog_limit=getattr(status, "backlog_limit", None),
            enabled=getattr(status, "enabled", None),
        )

    def finish(self, why: str) -> None:
        self.finished = why

    # --- output -----------------------------------------------------------
    def snapshot(self, *, rows: int = 20, tail: int = 60, sort: str = "count",
                 paused: bool = False) -> Snapshot:
        by_rate = sort == "rate"
        now = self.now

        def table(title, columns, counter, cells):
            return TopTable(
                title=title,
                columns=columns,
                rows=tuple(TopRow(cells(k), c, r) for k, c, r in counter.top(rows, by_rate)),
                other=counter.other,
                total=self.events,
            )

        def proc_cells(pid):
            comm, exe = self.processes.labels.get(pid, ("?", None))
            return (str(pid), comm, exe or "?")

        losses = tuple(
            LossCounter(
                name=label,
                total=self.loss_totals[key],
                rate=self.loss_rates[key].rate(),
                losing=self.loss_rates[key].losing(now),
            )
            for key, label in LOSS_KEYS
        )
        if self.extra_loss.latest() is not None:
            losses += (LossCounter(name=EXTRA_LOSS_NAME, total=self.extra_loss.latest(),
                                   rate=self.extra_loss.rate(),
                                   losing=self.extra_loss.losing(now)),)
        kaudit = self.kaudit
        if kaudit.available:
            kaudit = KernelAudit(
                available=True,
                lost=kaudit.lost,
                lost_rate=self.kaudit_lost.rate(),
                losing=self.kaudit_lost.losing(now),
                backlog=kaudit.backlog,
                backlog_limit=kaudit.backlog_limit,
                enabled=kaudit.enabled,
            )
        recent = self._recent(tail)
        return Snapshot(
            now=now,
            uptime=max(0.0, now - self.start),
            rules=self.rules,
            transport=self.transport,
            events=self.events,
            failures=self.failures,
            rate_now=float(self.per_second.last()),
            sparkline=self.per_second.history(),
            syscalls=table("syscalls", ("syscall",), self.syscalls, lambda k: (k,)),
            processes=table("processes", ("pid", "comm", "exe"), self.processes, proc_cells),
            auids=table("auids", ("auid", "user"), self.auids,
                        lambda a: (str(a), self.user_name(a))),
            # several keys on one rule arrive joined by \x01, as in audit records
            keys=table("rule keys", ("key",), self.keys,
                       lambda k: (k.replace("\x01", ",") if k else "(none)",)),
            tail=tuple(
                TailRow(
                    time=ev.time,
                    auid=self.user_name(ev.auid),
                    pid=ev.pid,
                    comm=ev.comm,
                    syscall=ev.syscall_name or f"syscall {ev.syscall}",
                    success=ev.success,
                    result=result_text(ev),
                    # an unreadable name shows as kernel audit writes it, never as an empty one
                    path=("(null)" if ev.paths[0] is None else ev.paths[0]) if ev.paths else "",
                )
                for ev in recent
            ),
            losses=losses,
            kaudit=kaudit,
            emitted=self.emitted,
            delivered=self.delivered,
            sort=sort,
            paused=paused,
            finished=self.finished,
        )

    def _recent(self, n: int) -> List[SyscallEvent]:
        """The last `n` events of the tail, decoding the ones a tally left raw (once: kept decoded)."""
        if not n:
            return []
        tail = self.tail
        start = max(0, len(tail) - n)
        out = []
        for i in range(start, len(tail)):
            ev = tail[i]
            if not isinstance(ev, SyscallEvent):
                ev = ev()
                if ev is None:  # not decodable after all: shown as nothing
                    continue
                tail[i] = ev
            out.append(ev)
        return out

    def tracked(self) -> Dict[str, int]:
        """Sizes of every structure that grows with input (for memory tests)."""
        return {
            "syscalls": self.syscalls.tracked(),
            "processes": self.processes.tracked(),
            "process_labels": len(self.processes.labels),
            "auids": self.auids.tracked(),
            "keys": self.keys.tracked(),
            "tail": len(self.tail),
            "sparkline": len(self.per_second.done),
            "recent_max": max(
                (len(d) for c in (self.syscalls, self.processes, self.auids, self.keys)
                 for d in list(c.recent) + [c.current]),
                default=0,
            ),
        }
