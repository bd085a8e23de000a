"""Percentiles from the workload's log-linear latency histogram (getppid_loop -l), pure functions.

A histogram is a sequence of (low ns, width ns, count) buckets, as the
workload prints them; every sample in a bucket lies in [low, low + width).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

Bucket = Tuple[int, int, int]
QUANTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999}
SUB_BITS = 5  # getppid_loop.c's SUB_BITS: 32 buckets per power of two


def bucket_of(value: int, sub_bits: int = SUB_BITS) -> Tuple[int, int]:
    """(low, width) of the bucket holding `value`: what getppid_loop.c's bucket() picks.

    Here for tests and fakes that need histograms shaped like the workload's.
    """
    sub = 1 << sub_bits
    if value < sub:
        return max(value, 0), 1
    shift = value.bit_length() - 1 - sub_bits
    return (value >> shift) << shift, 1 << shift


def histogram(values: Iterable[int], sub_bits: int = SUB_BITS) -> List[Bucket]:
    """Buckets (sorted, non-empty) of raw samples, as the workload would print them."""
    counts = Counter(bucket_of(v, sub_bits) for v in values)
    return [(lo, width, n) for (lo, width), n in sorted(counts.items())]


def merge(hists: Iterable[Sequence[Bucket]]) -> List[Bucket]:
    """One histogram of several runs (same bucket scheme): counts added per bucket."""
    counts: Counter = Counter()
    for h in hists:
        for lo, width, n in h:
            counts[(lo, width)] += n
    return [(lo, width, n) for (lo, width), n in sorted(counts.items())]


def total(hist: Sequence[Bucket]) -> int:
    return sum(n for _, _, n in hist)


def percentile(hist: Sequence[Bucket], q: float, maximum: Optional[int] = None) -> Optional[float]:
    """The q-quantile (0 < q <= 1) by nearest rank, placed linearly inside its bucket.

    Rank r = ceil(q * N); in the bucket holding the r-th sample, the k-th of
    its n samples is put at low + (width - 1) * k / n, so the answer is within
    the true sample's bucket: off by less than one bucket width (< 3.2 %).
    `maximum` (the exact largest sample) caps the answer. None: no samples.
    """
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q} is not in (0, 1]")
    buckets = sorted(hist)
    n_all = total(buckets)
    if n_all == 0:
        return None
    rank = max(1, math.ceil(q * n_all))
    seen = 0
    for lo, width, n in buckets:
        if n and seen + n >= rank:
            value = lo + (width - 1) * (rank - seen) / n
            return min(value, maximum) if maximum is not None else value
        seen += n
    raise AssertionError("unreachable: rank within the total")


def summary(hist: Sequence[Bucket], maximum: Optional[int] = None) -> Dict[str, Optional[float]]:
    """p50/p90/p99/p99.9 and the sample count of one histogram."""
    out: Dict[str, Optional[float]] = {k: percentile(hist, q, maximum) for k, q in QUANTILES.items()}
    out["samples"] = total(hist)
    out["max"] = maximum
    return out
