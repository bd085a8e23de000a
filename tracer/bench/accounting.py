"""S5's loss check: a capture session's final counters reconciled by the loss ledger (pure)."""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

from tracer.capture.ledger import CaptureCounters, LossLedger

COUNTERS = ("bpf_submit_failed", "perf_lost", "userspace_dropped", "seq_gaps", "malformed",
            "userspace_filtered", "stash_full", "queued")


def account(losses: Mapping[str, int], per_cpu: Optional[Mapping[str, Sequence[int]]] = None,
            delivery: Optional[Mapping[str, Mapping[int, int]]] = None,
            transport: str = "perf-ring") -> Dict[str, object]:
    """emitted, delivered, every loss counter, and whether emitted == delivered + lost exactly.

    `losses` is CaptureSession.losses() after the programs were detached and
    the queue decoded (`per_cpu`/`delivery`: its per-CPU views, if it has
    them); lost = bpf_submit_failed + userspace_dropped as the ledger counts it.
    perf_lost and seq_gaps are cross-checks: they count some of the same drops
    (perf_lost None with the ringbuf transport: a BPF ring buffer reports no losses).
    """
    counters = CaptureCounters.from_losses(losses, per_cpu, delivery, transport)
    ledger = LossLedger()
    ledger.update(counters)
    rec = ledger.reconcile()
    out: Dict[str, object] = {"emitted": ledger.emitted, "delivered": ledger.delivered, "lost": ledger.lost}
    out.update({k: int(losses.get(k, 0)) for k in COUNTERS})
    if not counters.ring_reports_losses:
        out["perf_lost"] = None
    out.update({
        "unaccounted": ledger.emitted - ledger.delivered - ledger.lost,
        "exact": ledger.emitted == ledger.delivered + ledger.lost and counters.queued == 0,
        "reconciled": rec.ok,
        "problems": list(rec.problems),
        "ledger_notes": list(rec.notes),
        # the perf ring's LOST records arrive with its next write: equal once they all came in
        "perf_lost_caught_up": int(losses.get("perf_lost", 0)) == ledger.capture.bpf_submit_failed
        if counters.ring_reports_losses else None,
        "transport": transport,
    })
    if per_cpu is not None:
        out["per_cpu"] = ledger.per_cpu
    return out
