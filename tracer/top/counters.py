"""Bounded counting structures for the dashboard: per-second buckets and
top-N counters with recent rates, O(1) amortized work per record."""

from __future__ import annotations

import heapq
from collections import deque
from typing import Deque, Dict, Hashable, List, Optional, Tuple


class SecondBuckets:
    """Counts per wall-clock second for the last `span` completed seconds."""

    def __init__(self, span: int = 60):
        self.span = span
        self.second: Optional[int] = None  # the second being filled
        self.current = 0
        self.done: Deque[int] = deque(maxlen=span)  # oldest first

    def advance(self, now: float) -> None:
        sec = int(now)
        if self.second is None:
            self.second = sec
            return
        if sec <= self.second:
            return
        # A jump longer than the span only needs `span` zero buckets.
        gap = min(sec - self.second, self.span + 1)
        self.done.append(self.current)
        for _ in range(gap - 1):
            self.done.append(0)
        self.current = 0
        self.second = sec

    def add(self, n: int = 1) -> None:
        self.current += n

    def last(self) -> int:
        """Count of the last completed second (0 before one has completed)."""
        return self.done[-1] if self.done else 0

    def history(self) -> Tuple[int, ...]:
        """The last `span` completed seconds, oldest first, zero-padded."""
        pad = self.span - len(self.done)
        return (0,) * pad + tuple(self.done)


class TopCounter:
    """Counts per key with a cap on the keys tracked, and a rate per key over
    the last `window` completed seconds.

    When more than 2*cap keys are tracked the smallest are folded into
    `other` (the prune costs O(n log cap) once per cap new keys, so each
    record costs O(1) amortized and memory stays O(cap) for any run length).
    """

    def __init__(self, cap: int = 256, window: int = 5):
        self.cap = cap
        self.window = window
        self.counts: Dict[Hashable, int] = {}
        self.labels: Dict[Hashable, object] = {}  # last label seen per key
        self.other = 0  # records of keys no longer tracked
        self.other_keys = 0  # how many keys were folded into `other`
        self.current: Dict[Hashable, int] = {}  # the second being filled
        self.recent: Deque[Dict[Hashable, int]] = deque(maxlen=window)  # completed seconds
        self.seconds_seen = 0  # completed seconds, to divide rates early in a run

    def add(self, key: Hashable, label: object = None, count: int = 1) -> None:
        """`count` records of `key` (its label, when given, replaces the last one)."""
        counts = self.counts
        n = counts.get(key)
        if n is None:
            counts[key] = count
            if len(counts) > 2 * self.cap:
                self._prune()
                if key not in counts:
                    return
        else:
            counts[key] = n + count
        if label is not None:
            self.labels[key] = label
        cur = self.current
        cur[key] = cur.get(key, 0) + count

    def roll(self, seconds: int = 1) -> None:
        """Close the current second (and `seconds - 1` empty ones)."""
        for _ in range(min(seconds, self.window + 1)):
            self.recent.append(self.current)
            self.current = {}
        self.seconds_seen += seconds

    def rate(self, key: Hashable) -> float:
        span = min(self.window, self.seconds_seen)
        if span <= 0:
            return 0.0
        return sum(d.get(key, 0) for d in self.recent) / span

    def top(self, n: int, by_rate: bool = False) -> List[Tuple[Hashable, int, float]]:
        """The n largest keys as (key, count, rate), by count or by rate."""
        if by_rate:
            rated = {}
            for d in self.recent:
                for k, c in d.items():
                    rated[k] = rated.get(k, 0) + c
            keys = heapq.nlargest(n, rated, key=lambda k: (rated[k], self.counts.get(k, 0)))
            if len(keys) < n:  # fill with quiet keys by count
                seen = set(keys)
                rest = heapq.nlargest(n, self.counts, key=self.counts.__getitem__)
                keys += [k for k in rest if k not in seen][: n - len(keys)]
        else:
            keys = heapq.nlargest(n, self.counts, key=self.counts.__getitem__)
        return [(k, self.counts.get(k, 0), self.rate(k)) for k in keys]

    def tracked(self) -> int:
        """Keys held in memory (the bound the cap guarantees)."""
        return len(self.counts)

    def _prune(self) -> None:
        keep = set(heapq.nlargest(self.cap, self.counts, key=self.counts.__getitem__))
        dropped = [k for k in self.counts if k not in keep]
        for k in dropped:
            self.other += self.counts.pop(k)
            self.labels.pop(k, None)
            self.current.pop(k, None)
            for d in self.recent:
                d.pop(k, None)
        self.other_keys += len(dropped)
