"""Interleaved repetitions: every configuration once per round, the order rotated each round."""

from __future__ import annotations

import contextlib
from typing import Callable, Dict, List, Optional

from tracer.bench.configs import Config
from tracer.bench.quiet import QuietWaiter
from tracer.bench.stats import ConfigResult
from tracer.bench.workload import metric_value


def rotation(n: int, rep: int) -> List[int]:
    """Indices of n configurations in round `rep`: rotated so none always runs first (warm caches, drift)."""
    k = rep % n if n else 0
    return list(range(k, n)) + list(range(k))


def interleave(configs: List[Config], reps: int, job,
               log: Callable[[str], None] = lambda s: None, quiet: Optional[QuietWaiter] = None,
               metric: str = "wall") -> Dict[str, ConfigResult]:
    """Runs every configuration `reps` times; each run records the foreign tracers seen before it.

    `metric` is what the samples are: "wall" ns per call (blocking counts, as
    kernel audit's backlog waits must) or the workload's "cpu" ns per call.
    """
    results = {c.name: ConfigResult(c.name, extra={"runs": []}) for c in configs}
    for c in configs:
        if getattr(c, "bpf_sha256", None):  # which bpf/ the configuration compiled (builds.bpf_digest)
            results[c.name].extra["bpf_sha256"] = c.bpf_sha256
    for rep in range(reps):
        for i in rotation(len(configs), rep):
            c = configs[i]
            foreign = quiet() if quiet else []
            res, extra = c.measure(job)
            extra["foreign_tracers"] = len(foreign)
            r = results[c.name]
            r.samples.append(metric_value(res, metric))
            r.extra["runs"].append({"calls": res.calls, "warmup": res.warmup, "ns": res.ns,
                                    "wall_ns_per_call": res.ns_per_call, "cpu_ns_per_call": res.cpu_ns_per_call,
                                    "slice_median_ns_per_call": res.slice_median_ns_per_call, **extra})
            log(f"round {rep + 1}/{reps} {c.name}: {res.ns_per_call:,.0f} wall / {res.cpu_ns_per_call:,.0f} cpu ns/call"
                + (f", {extra['records']} records, {extra['lost']} lost" if "records" in extra else "")
                + (f", kernel audit lost {extra['kaudit_lost']}" if extra.get("kaudit_lost") else "")
                + (f", DISTURBED by {len(foreign)} foreign syscall programs" if foreign else ""))
    return results


@contextlib.contextmanager
def opened(configs: List[Config], log: Callable[[str], None] = lambda s: None):
    """Opens every configuration (compiles BPF ones) and closes all of them however the block ends."""
    with contextlib.ExitStack() as stack:
        for c in configs:
            log(f"preparing {c.name}")
            c.open()
            stack.callback(c.close)
        yield configs
