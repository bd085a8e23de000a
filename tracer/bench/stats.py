"""Medians, added costs and ratios over interleaved repetitions (pure functions)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no samples")
    return float(statistics.median(values))


def paired_added(samples: Sequence[float], baseline: Sequence[float]) -> float:
    """Median over repetitions of (config - baseline) in the same repetition.

    Interleaving puts each configuration next to its baseline in time, so the
    pairwise difference cancels slow drifts in machine load that separate
    medians would keep.
    """
    n = min(len(samples), len(baseline))
    if n == 0:
        raise ValueError("no paired samples")
    return median([samples[i] - baseline[i] for i in range(n)])


def ratio(value: Optional[float], reference: Optional[float]) -> Optional[float]:
    """value / reference, or None when either is missing or the reference is not positive."""
    if value is None or reference is None or reference <= 0:
        return None
    return value / reference


@dataclass
class ConfigResult:
    """One configuration's repetitions (ns per call) and what was derived from them."""

    name: str
    samples: List[float] = field(default_factory=list)
    extra: Dict[str, object] = field(default_factory=dict)  # losses, records, bpf stats...
    median_ns: Optional[float] = None
    added_ns: Optional[float] = None  # over bare, paired per repetition
    x_bare: Optional[float] = None  # median_ns / bare median
    x_kaudit: Optional[float] = None  # median_ns / kernel audit median
    added_vs_kaudit: Optional[float] = None  # added_ns / kernel audit's added_ns

    def to_json(self) -> Dict[str, object]:
        return {
            "name": self.name,
            "samples_ns_per_call": self.samples,
            "median_ns": self.median_ns,
            "added_ns": self.added_ns,
            "x_bare": self.x_bare,
            "x_kaudit": self.x_kaudit,
            "added_vs_kaudit": self.added_vs_kaudit,
            **self.extra,
        }


def summarize(results: List[ConfigResult], bare: str, kaudit: Optional[str]) -> List[ConfigResult]:
    """Fills the derived fields of every result from the raw samples, in place; returns the list."""
    by_name = {r.name: r for r in results}
    if bare not in by_name or not by_name[bare].samples:
        raise ValueError(f"no samples for the baseline {bare!r}")
    for r in results:
        r.median_ns = median(r.samples) if r.samples else None
    base = by_name[bare]
    for r in results:
        if r.samples:
            r.added_ns = paired_added(r.samples, base.samples)
            r.x_bare = ratio(r.median_ns, base.median_ns)
    ka = by_name.get(kaudit) if kaudit else None
    for r in results:
        if ka is not None and ka.samples and r.samples:
            r.x_kaudit = ratio(r.median_ns, ka.median_ns)
            r.added_vs_kaudit = ratio(r.added_ns, ka.added_ns)
    return results


@dataclass
class Target:
    """A pass/fail check from the issue, e.g. 'added cost <= 1.2x the raw floor'."""

    scenario: str
    text: str
    value: Optional[float]
    limit: float
    met: Optional[bool]  # None: could not be measured
    note: str = ""

    def to_json(self) -> Dict[str, object]:
        return dict(self.__dict__)


def at_most(scenario: str, text: str, value: Optional[float], limit: float, note: str = "") -> Target:
    return Target(scenario, text, value, limit, None if value is None else value <= limit, note)


def at_least(scenario: str, text: str, value: Optional[float], limit: float, note: str = "") -> Target:
    return Target(scenario, text, value, limit, None if value is None else value >= limit, note)
