"""One cell of a comparison: a rule set under one engine (or the baseline),
its N timed runs, what it recorded and what it lost."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from typing import List, Optional

from tracer.compare.session import RunResult

BASELINE = "baseline"
ENGINES = ("audit", "bpf")


@dataclasses.dataclass
class Cell:
    engine: str  # BASELINE, "audit" (kernel audit + auditd) or "bpf" (bpfaudit)
    rules: str = ""  # the rule set's label (its file name); "" for the baseline
    runs: List[RunResult] = dataclasses.field(default_factory=list)
    observations: Counter = dataclasses.field(default_factory=Counter)  # Observation -> count, all runs
    # audit: kernel counters over the cell; bpf: LossLedger.to_dict(); baseline: {}
    losses: dict = dataclasses.field(default_factory=dict)
    notes: List[str] = dataclasses.field(default_factory=list)

    @property
    def label(self) -> str:
        return self.engine if self.engine == BASELINE else f"{self.engine}:{self.rules}"

    @property
    def wall_median(self) -> Optional[float]:
        return statistics.median(r.wall_s for r in self.runs) if self.runs else None

    @property
    def cpu_median(self) -> Optional[float]:
        return statistics.median(r.cpu_s for r in self.runs) if self.runs else None

    @property
    def records(self) -> int:
        return sum(self.observations.values())

    def by_key(self) -> Counter:
        out: Counter = Counter()
        for obs, n in self.observations.items():
            out[obs.key] += n
        return out

    def by_syscall(self) -> Counter:
        out: Counter = Counter()
        for obs, n in self.observations.items():
            out[obs.syscall] += n
        return out
