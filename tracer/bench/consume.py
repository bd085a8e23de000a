"""What a bpfaudit configuration does with its capture session while measured: take records as
they come, then drain until every record emitted is delivered or counted lost.

Imports nothing of tracer: the build agent (agent.py) runs it against another revision's
capture session, so one drain rule holds for every build the bench compares.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Mapping, Tuple


def take(cap, decode: bool, timeout_ms: int = 50) -> Tuple[int, List[object]]:
    """One look at the rings: (records taken, the decoded batch).

    Without `decode` the samples are taken undecoded (CaptureSession.discard(),
    the transport's cost alone: what S3's transport-only consumer measures) and
    the batch is empty.
    """
    if not decode:
        return cap.discard(timeout_ms), []
    batch = cap.poll(timeout_ms)
    return len(batch), batch


def drain(cap, decode: bool, before: Mapping[str, int], tally: Mapping[str, int],
          consume_once: Callable[[], None], timeout: float = 10.0) -> Dict[str, int]:
    """Consumes until every record emitted since `before` (cap.losses()) is delivered or counted
    lost, or `timeout` s pass; returns the counters' differences since `before`."""
    deadline = time.monotonic() + timeout
    while True:
        consume_once()
        now = cap.losses()
        d = {k: now[k] - before.get(k, 0) for k in now if k != "queued"}
        if not decode:
            d["delivered"] = tally["records"]  # discard() takes samples past the session's delivery count
        # the loss ledger's identity: perf_lost repeats submit failures, and malformed and
        # filtered samples are among the delivered ones, so adding them would stop the drain early
        accounted = d["delivered"] + d["bpf_submit_failed"] + d["userspace_dropped"]
        if (accounted >= d["emitted"] and now["queued"] == 0) or time.monotonic() > deadline:
            d["queued"] = now["queued"]
            return d


def run_extra(tally: Mapping[str, int], d: Mapping[str, int], consumer_cpu_s: float, job_ns: int) -> Dict[str, object]:
    """What a measured bpfaudit run reports beside the workload's result (the JSON's per-run fields)."""
    return {**tally, "emitted": d["emitted"], "lost": d["emitted"] - d["delivered"], "losses": dict(d),
            "consumer_cpu_ms": round(consumer_cpu_s * 1000, 1), "job_wall_ms": round(job_ns / 1e6, 1)}
