"""S3, the lossless ceiling: a paced generator steps the record rate up until the capture session loses."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

from tracer.bench import kstate
from tracer.bench.configs import Bpfaudit
from tracer.bench.quiet import QuietWaiter
from tracer.bench.runner import opened
from tracer.bench.stats import at_least
from tracer.bench.stepping import Step, ceiling, next_rate

OURS = "bpfaudit (per-record consumer)"


def run_s3(binary: str, seconds: float, log: Callable[[str], None], start: float = 25_000,
           max_steps: int = 12, quiet: Optional[QuietWaiter] = None) -> Dict[str, object]:
    from tracer.kaudit.state import auditctl, kernel_audit_session
    from tracer.rules import parse_text

    steps: List[Dict[str, object]] = []
    history: List[Step] = []
    with kernel_audit_session():
        auditctl("-D")
        kstate.set_enabled(0)
        kstate.fast_path(True)
        config = Bpfaudit(OURS, parse_text(kstate.BENCH_RULE))
        with opened([config], log):
            rate = next_rate(history, start=start, max_steps=max_steps)
            while rate is not None:
                foreign = quiet() if quiet else []
                res, extra = config.measure(binary, seconds, 1000, rate=rate)
                losses = extra["losses"]
                lossless = extra["lost"] == 0 and not any(
                    losses[k] for k in ("bpf_submit_failed", "perf_lost", "userspace_dropped", "malformed"))
                history.append(Step(rate, res.calls_per_s, lossless))
                steps.append({"target_per_s": rate, "achieved_per_s": res.calls_per_s,
                              "records": extra["records"], "emitted": extra["emitted"], "lost": extra["lost"],
                              "lossless": lossless, "losses": losses, "foreign_tracers": len(foreign)})
                log(f"S3 target {rate:,.0f}/s achieved {res.calls_per_s:,.0f}/s: "
                    f"{extra['records']} records, {extra['lost']} lost")
                rate = next_rate(history, start=start, max_steps=max_steps)
    return {"S3": {
        "title": "S3 lossless ceiling (records/s, paced getppid, every call recorded)",
        "consumer": OURS, "steps": steps, "ceiling_per_s": ceiling(history),
        "notes": [f"rule: `{kstate.BENCH_RULE}`, auid 1000, {seconds:g} s per step; rate doubled from "
                  f"{start:,.0f}/s until loss, then bisected to within 15%",
                  "lossless = emitted == delivered and no loss counter moved"],
    }}


def s3_targets(scenarios: Dict[str, Dict]) -> list:
    s = scenarios.get("S3")
    if not s:
        return []
    return [at_least("S3", "lossless records/s (per-record consumer)", s["ceiling_per_s"], 500_000)]
