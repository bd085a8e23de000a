"""The S3 rate search: double the record rate until loss appears, then bisect (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple


@dataclass(frozen=True)
class Step:
    target: float  # records/s asked of the generator
    achieved: float  # records/s the generator really issued
    lossless: bool


def bounds(history: List[Step], reach: float = 0.9) -> Tuple[Optional[float], Optional[float], bool]:
    """(highest lossless achieved rate, lowest lossy target, generator saturated).

    A lossless step whose generator fell short of `reach` x its target shows
    the workload, not the tracer, is the limit: nothing above it can be tried.
    """
    good = [s.achieved for s in history if s.lossless]
    bad = [s.target for s in history if not s.lossless]
    saturated = any(s.lossless and s.achieved < reach * s.target for s in history)
    return (max(good) if good else None, min(bad) if bad else None, saturated)


def next_rate(history: List[Step], start: float = 25_000, precision: float = 1.15,
              max_steps: int = 12, reach: float = 0.9) -> Optional[float]:
    """The next target rate, or None when the ceiling is known to within `precision`."""
    if not history:
        return start
    if len(history) >= max_steps:
        return None
    lo, hi, saturated = bounds(history, reach)
    if saturated:
        # the generator could not issue a rate it was asked for without loss:
        # asking again for it or more measures the generator, not the tracer
        return None
    if hi is None:
        return history[-1].target * 2
    if lo is None:
        # loss already at the first rate: step down until a lossless one
        return hi / 2 if hi / 2 >= 1000 else None
    if hi / lo <= precision:
        return None
    return (lo * hi) ** 0.5  # geometric midpoint: rates span decades


def ceiling(history: List[Step]) -> Optional[float]:
    """The highest lossless rate achieved, the answer of S3."""
    return bounds(history)[0]
