"""The loss ledger: where every record BPF numbered ended up, layer by layer,
beside kernel audit's own loss counters over the same interval. Every view
(trace's summary and --stats-json, top, compare) reads this one object.

Accounting (all counts are records, i.e. syscalls the rules selected):

  emitted            sequence numbers BPF handed out (per CPU), one per record
                     it tried to submit. Each ends in exactly one of:
  bpf_submit_failed  perf_submit failed (per CPU). Includes every ring-buffer-full
                     drop; the kernel also counts those as PERF_RECORD_LOST, which
                     reaches us late as perf_lost (see below), so they are not
                     counted twice.
  userspace_dropped  read out of the ring by the reader thread but dropped
                     because the user-space queue was full (never decoded).
  queued             in the user-space queue, not decoded yet.
  delivered          decoded by the reader (malformed and user-space-filtered
                     samples included: they arrived, they are not losses).
  in_flight          emitted - (the four above): in the perf ring, unread. Not
                     counted anywhere, only derived; 0 once the capture is
                     detached and drained.

  lost = bpf_submit_failed + userspace_dropped, each dropped record once, and
  at the end of a run  emitted == delivered + lost  exactly (reconcile()),
  in total and per CPU: BPF numbers a record with the counters of the CPU it
  runs on and submits it to that CPU's ring, and user space counts deliveries,
  queue drops and gaps by ring, so each CPU's column balances on its own.

Cross-checks, not part of the identity:
  perf_lost   ring-full drops as the perf ring reports them. The LOST record is
              written only when the ring next accepts a sample, so it lags and
              may never arrive after the last drop: perf_lost <= bpf_submit_failed.
              A BPF ring buffer (transport "ringbuf") writes no LOST records:
              there BPF's count is the only one and this cross-check does not exist.
  seq_gaps    numbers the reader saw skipped within one CPU's stream. Drops
              before a CPU's first or after its last delivered record leave no
              gap, so seq_gaps <= lost.
  stash_full  syscalls dropped at sys_enter: the thread's stash (task storage)
              could not be had (no memory, or the storage busy on that CPU).
              Lost before numbering, so outside the identity, reported apart.

Written, or not: `trace` writes what was delivered. A write error (a full disk, a closed pipe)
ends the run; the events delivered but not written from then on are `unwritten`, a loss after
delivery (outside the identity above: they are among the delivered), counted in loss_ratio
and reported with the error (`write_error`).

Truncation, not loss: an event whose item was cut at its cap (EXECVE arguments
beyond BA_EVENT_MAX, a path deeper than the walk goes) or could not be read is
still emitted and delivered, flagged in the record (`cut`). BPF counts such
events (cut), the reader counts those it decoded (cut_delivered <= cut).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple


@dataclasses.dataclass(frozen=True)
class CaptureCounters:
    """One reading of a capture session's counters (CaptureSession.losses() plus per-CPU BPF counters)."""

    emitted_per_cpu: Tuple[int, ...]
    submit_failed_per_cpu: Tuple[int, ...]
    delivered: int = 0
    perf_lost: int = 0
    userspace_dropped: int = 0
    queued: int = 0
    seq_gaps: int = 0
    malformed: int = 0
    userspace_filtered: int = 0
    stash_full: int = 0
    cut: int = 0  # emitted events with an item cut or unreadable (BPF's count)
    cut_delivered: int = 0  # of those, the ones the reader decoded
    # user space's view by perf ring (index = CPU), aligned with emitted_per_cpu; empty when unknown
    delivered_per_cpu: Tuple[int, ...] = ()
    userspace_dropped_per_cpu: Tuple[int, ...] = ()
    seq_gaps_per_cpu: Tuple[int, ...] = ()
    transport: str = "perf-ring"  # CaptureOptions.transport: whether the ring reports its own losses

    @property
    def ring_reports_losses(self) -> bool:
        """Perf rings (ours or bcc's) write LOST records; a BPF ring buffer has none."""
        return self.transport != "ringbuf"

    @property
    def emitted(self) -> int:
        return sum(self.emitted_per_cpu)

    @property
    def bpf_submit_failed(self) -> int:
        return sum(self.submit_failed_per_cpu)

    @classmethod
    def from_losses(cls, losses: Mapping[str, int], per_cpu: Optional[Mapping[str, Sequence[int]]] = None,
                    delivery: Optional[Mapping[str, Mapping[int, int]]] = None,
                    transport: str = "perf-ring") -> "CaptureCounters":
        """From CaptureSession.losses(); `per_cpu` maps emitted/submit_failed to per-CPU values
        (without it the totals are kept as one pseudo-CPU). The per-CPU values win over the totals:
        both are read from the same map, moments apart. `delivery` is CaptureSession.delivery_per_cpu():
        delivered, userspace_dropped and seq_gaps as {cpu: count}."""
        emitted = tuple(per_cpu["emitted"]) if per_cpu else (losses["emitted"],)
        failed = tuple(per_cpu["submit_failed"]) if per_cpu else (losses["bpf_submit_failed"],)
        ncpu = len(emitted)

        def by_cpu(name: str) -> Tuple[int, ...]:
            if not delivery or not per_cpu:
                return ()
            counts = delivery.get(name, {})
            return tuple(int(counts.get(cpu, 0)) for cpu in range(max([ncpu, *(c + 1 for c in counts)])))

        return cls(
            delivered_per_cpu=by_cpu("delivered"),
            userspace_dropped_per_cpu=by_cpu("userspace_dropped"),
            seq_gaps_per_cpu=by_cpu("seq_gaps"),
            emitted_per_cpu=emitted,
            submit_failed_per_cpu=failed,
            delivered=losses["delivered"],
            perf_lost=losses["perf_lost"],
            userspace_dropped=losses["userspace_dropped"],
            queued=losses.get("queued", 0),
            seq_gaps=losses["seq_gaps"],
            malformed=losses.get("malformed", 0),
            userspace_filtered=losses.get("userspace_filtered", 0),
            stash_full=losses.get("stash_full", 0),
            cut=losses.get("cut", 0),
            cut_delivered=losses.get("cut_delivered", 0),
            transport=transport,
        )


@dataclasses.dataclass(frozen=True)
class KernelAuditCounters:
    """Kernel audit's loss-related status fields at one moment (netlink AUDIT_GET)."""

    lost: int
    backlog: int
    backlog_wait_time_actual: Optional[int] = None  # None on kernels that do not report it

    @classmethod
    def from_status(cls, status) -> "KernelAuditCounters":
        return cls(status.lost, status.backlog, status.backlog_wait_time_actual)


def _at(values: Sequence[int], i: int) -> int:
    return values[i] if i < len(values) else 0


def counter_delta(start: Optional[int], now: Optional[int]) -> Optional[int]:
    if start is None or now is None:
        return None
    # the kernel's counters are u32 and wrap
    return (now - start) % (1 << 32)


@dataclasses.dataclass(frozen=True)
class Reconciliation:
    ok: bool
    problems: Tuple[str, ...]
    notes: Tuple[str, ...]


class LossLedger:
    """Counter snapshots of one capture and of kernel audit over the same interval.

    Pure arithmetic: feed it readings with `update()`, ask it for totals. The
    first kernel reading is the baseline of the kernel deltas.
    """

    def __init__(self, kernel_start: Optional[KernelAuditCounters] = None):
        self.kernel_start = kernel_start
        self.kernel_now = kernel_start
        self.kernel_backlog_max = kernel_start.backlog if kernel_start else None
        self.capture = CaptureCounters((0,), (0,))
        self.snapshots = 0
        # Rule keys are known in user space only for decoded records (BPF counts failures
        # per CPU, not per rule): this is delivered-and-kept records by key.
        self.delivered_by_key: Counter = Counter()
        self.unwritten = 0  # delivered, then not written: the output failed (write_error says how)
        self.write_error = ""

    def observe(self, events: Iterable) -> None:
        """Counts decoded events (SyscallEvents) by rule key; several keys are shown comma-joined."""
        for ev in events:
            self.delivered_by_key[ev.key.replace("\x01", ",") if ev.key else "(none)"] += 1

    def observe_keys(self, counts: Dict[str, int]) -> None:
        """Counts events already counted by key (observe()'s names: comma-joined keys, "(none)")."""
        for key, n in counts.items():
            self.delivered_by_key[key] += n

    def update(self, capture: CaptureCounters, kernel: Optional[KernelAuditCounters] = None) -> None:
        self.capture = capture
        self.snapshots += 1
        if kernel is not None:
            if self.kernel_start is None:
                self.kernel_start = kernel
            self.kernel_now = kernel
            self.kernel_backlog_max = max(self.kernel_backlog_max or 0, kernel.backlog)

    # -- the identity ---------------------------------------------------------
    @property
    def emitted(self) -> int:
        return self.capture.emitted

    @property
    def delivered(self) -> int:
        return self.capture.delivered

    @property
    def lost(self) -> int:
        """Numbered records that will never be decoded, each counted once."""
        return self.capture.bpf_submit_failed + self.capture.userspace_dropped

    @property
    def in_flight(self) -> int:
        """Numbered records still in the perf ring (derived; 0 after detach and drain)."""
        c = self.capture
        return c.emitted - c.bpf_submit_failed - c.userspace_dropped - c.queued - c.delivered

    @property
    def loss_ratio(self) -> float:
        return (self.lost + self.unwritten) / self.emitted if self.emitted else 0.0

    @property
    def perf_lost_pending(self) -> Optional[int]:
        """Ring-full drops the perf ring has not reported yet (at most; other submit errors count too);
        None with a BPF ring buffer, which never reports them."""
        if not self.capture.ring_reports_losses:
            return None
        return max(self.capture.bpf_submit_failed - self.capture.perf_lost, 0)

    @property
    def per_cpu(self) -> List[Dict[str, int]]:
        """One row per CPU; with user space's per-ring counts, also delivered, dropped, gaps and lost."""
        c = self.capture
        rows = []
        for i, (e, f) in enumerate(zip(c.emitted_per_cpu, c.submit_failed_per_cpu)):
            row = {"cpu": i, "emitted": e, "bpf_submit_failed": f}
            if c.delivered_per_cpu:
                dropped = _at(c.userspace_dropped_per_cpu, i)
                row.update(delivered=_at(c.delivered_per_cpu, i), userspace_dropped=dropped,
                           seq_gaps=_at(c.seq_gaps_per_cpu, i), lost=f + dropped)
            rows.append(row)
        return rows

    # -- kernel audit over the same interval ----------------------------------
    @property
    def kernel_lost_delta(self) -> Optional[int]:
        if self.kernel_start is None or self.kernel_now is None:
            return None
        return counter_delta(self.kernel_start.lost, self.kernel_now.lost)

    @property
    def kernel_backlog_wait_delta(self) -> Optional[int]:
        if self.kernel_start is None or self.kernel_now is None:
            return None
        return counter_delta(self.kernel_start.backlog_wait_time_actual, self.kernel_now.backlog_wait_time_actual)

    def reconcile(self) -> Reconciliation:
        """At the end of a run (detached, drained, queue decoded): emitted == delivered + lost exactly."""
        c = self.capture
        problems: List[str] = []
        notes: List[str] = []
        if c.queued:
            problems.append(f"{c.queued} records still queued: decode them before reconciling")
        if c.emitted != c.delivered + self.lost:
            problems.append(
                f"emitted {c.emitted} != delivered {c.delivered} + lost {self.lost} "
                f"(bpf_submit_failed {c.bpf_submit_failed} + userspace_dropped {c.userspace_dropped}); "
                f"{self.in_flight} unaccounted")
        if c.perf_lost > c.bpf_submit_failed:
            problems.append(f"perf ring reported {c.perf_lost} lost but BPF counted only "
                            f"{c.bpf_submit_failed} failed submissions")
        elif c.perf_lost < c.bpf_submit_failed and c.ring_reports_losses:
            notes.append(f"{c.bpf_submit_failed - c.perf_lost} failed submissions not (yet) reported by "
                         "the perf ring: its LOST record only follows a later successful write")
        if c.seq_gaps > self.lost:
            problems.append(f"{c.seq_gaps} sequence gaps but only {self.lost} records lost")
        elif c.seq_gaps < self.lost:
            notes.append(f"{self.lost - c.seq_gaps} lost records left no gap (before a CPU's first or "
                         "after its last delivered record)")
        if c.delivered_per_cpu and not c.queued:
            for row in self.per_cpu:
                if row["emitted"] != row["delivered"] + row["lost"]:
                    problems.append(f"CPU {row['cpu']}: emitted {row['emitted']} != delivered "
                                    f"{row['delivered']} + lost {row['lost']}")
                if row["seq_gaps"] > row["lost"]:
                    problems.append(f"CPU {row['cpu']}: {row['seq_gaps']} sequence gaps but only "
                                    f"{row['lost']} records lost")
            extra = len(c.delivered_per_cpu) - len(c.emitted_per_cpu)
            if extra > 0 and any(c.delivered_per_cpu[len(c.emitted_per_cpu):]):
                problems.append("records arrived on a perf ring of a CPU BPF has no counters for")
        if c.stash_full:
            notes.append(f"{c.stash_full} syscalls dropped at entry (no stash), before numbering")
        if c.cut_delivered > c.cut:
            problems.append(f"{c.cut_delivered} delivered events had a cut item but BPF counted only {c.cut}")
        elif c.cut:
            notes.append(f"{c.cut} events carried an item cut at its cap or unreadable (flagged in the record)")
        return Reconciliation(not problems, tuple(problems), tuple(notes))

    def to_dict(self) -> dict:
        c = self.capture
        rec = self.reconcile()
        return {
            "emitted": c.emitted,
            "delivered": c.delivered,
            "lost": self.lost,
            "loss_ratio": self.loss_ratio,
            "unwritten": self.unwritten,
            "write_error": self.write_error or None,
            "in_flight": self.in_flight,
            "layers": {
                "bpf_submit_failed": c.bpf_submit_failed,
                "userspace_dropped": c.userspace_dropped,
                "queued": c.queued,
            },
            "transport": c.transport,
            "cross_checks": {
                # None: a BPF ring buffer has no LOST records, so no such cross-check
                "perf_lost": c.perf_lost if c.ring_reports_losses else None,
                "perf_lost_pending": self.perf_lost_pending,
                "seq_gaps": c.seq_gaps,
            },
            "not_numbered": {"stash_full": c.stash_full},
            "truncated": {"cut": c.cut, "cut_delivered": c.cut_delivered},
            "delivered_detail": {"malformed": c.malformed, "userspace_filtered": c.userspace_filtered},
            "per_cpu": self.per_cpu,
            "delivered_by_key": dict(sorted(self.delivered_by_key.items())),
            "kernel_audit": {
                "lost_delta": self.kernel_lost_delta,
                "backlog": self.kernel_now.backlog if self.kernel_now else None,
                "backlog_max": self.kernel_backlog_max,
                "backlog_wait_time_actual_delta": self.kernel_backlog_wait_delta,
            },
            "reconciled": rec.ok,
            "problems": list(rec.problems),
            "notes": list(rec.notes),
        }

    def summary(self) -> str:
        """One line for stderr."""
        c = self.capture
        reported = (f", of which the ring reported {c.perf_lost}" if c.ring_reports_losses
                    else ", the ring buffer reports none of its own")
        line = (f"bpfaudit: {c.emitted} emitted, {c.delivered} delivered, {self.lost} lost "
                f"({c.bpf_submit_failed} in BPF submit{reported}; "
                f"{c.userspace_dropped} in the user-space queue), {c.seq_gaps} sequence gaps")
        if self.unwritten or self.write_error:
            line += f"; {self.unwritten} delivered but not written ({self.write_error or 'write error'})"
        if c.cut:
            line += f"; {c.cut} events with an item cut (flagged, not lost)"
        if self.kernel_lost_delta is not None:
            line += f"; kernel audit lost +{self.kernel_lost_delta} meanwhile"
        rec = self.reconcile()
        line += "; reconciled" if rec.ok else "; NOT reconciled: " + "; ".join(rec.problems)
        return line


# -- reading live counters ------------------------------------------------------
def read_capture(cap) -> CaptureCounters:
    """A CaptureCounters from a live tracer.capture.session.CaptureSession."""
    per_cpu = cap.counters_per_cpu() if hasattr(cap, "counters_per_cpu") else None
    delivery = cap.delivery_per_cpu() if hasattr(cap, "delivery_per_cpu") else None
    transport = getattr(getattr(cap, "options", None), "transport", "perf-ring")
    return CaptureCounters.from_losses(cap.losses(), per_cpu, delivery, transport)


def read_kernel_audit() -> Optional[KernelAuditCounters]:
    """Kernel audit's counters now, or None where audit is unavailable (compiled out, no capability)."""
    from tracer.errors import BpfauditError
    from tracer.kaudit.netlink import audit_status

    try:
        return KernelAuditCounters.from_status(audit_status())
    except (BpfauditError, OSError):
        return None


def ledger_update(ledger: LossLedger, cap) -> LossLedger:
    """Reads the capture and kernel audit now into `ledger`; returns it."""
    ledger.update(read_capture(cap), read_kernel_audit())
    return ledger
