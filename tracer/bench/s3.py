"""S3, the lossless ceiling: a paced generator steps the record rate up until the capture session loses.

Searched per consumer: the per-record consumer (poll() decodes every record, as
`bpfaudit trace` does) and the transport alone (samples taken off undecoded: the
capture session's own ceiling, the fastest consumer) on the judged transport
(the default transport, ringbuf, unless the bench's --transport says otherwise); for comparison the
per-record consumer on bcc's perf buffer, and both consumers on the other of
perf-ring and ringbuf. All with `bpfaudit trace`'s ring size (ringbuf: the same
pages in one shared ring).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from tracer.bench import kstate
from tracer.bench.configs import Bpfaudit
from tracer.bench.quiet import QuietWaiter
from tracer.bench.runner import opened
from tracer.bench.stats import at_least
from tracer.bench.stepping import Step, bounds, ceiling, next_rate
from tracer.bench.workload import GetppidJob
from tracer.capture.session import DEFAULT_TRANSPORT

NAMED = {"perf-ring": "perf-ring transport", "ringbuf": "ringbuf transport, the BPF ring buffer",
         "bcc": "bcc's perf buffer, callback per sample"}


def setups(transport: str = DEFAULT_TRANSPORT) -> Dict[str, Tuple[bool, str, str]]:
    """key -> (decode?, transport, label). "decode" and "count" are the targets' per-record and
    fastest consumers on `transport`; the others are measured beside them for comparison."""
    out = {"decode": (True, transport, f"per-record consumer (poll() decodes each record, {NAMED[transport]})"),
           "count": (False, transport, f"transport only ({NAMED[transport]}: samples counted, not decoded)")}
    if transport != "bcc":
        out["decode-bcc"] = (True, "bcc", f"per-record consumer on {NAMED['bcc']}")
    other = "ringbuf" if transport != "ringbuf" else "perf-ring"
    out[f"decode-{other}"] = (True, other, f"per-record consumer on the {NAMED[other]}")
    out[f"count-{other}"] = (False, other, f"transport only ({NAMED[other]}: samples counted, not decoded)")
    return out


TARGETED = ("decode", "count")
PAGE_CNT = 1024  # perf ring pages per CPU: CaptureOptions' default, what `bpfaudit trace` runs with
# perf_lost is left out: the perf buffer's lost callback only fires with the
# next successful write, so it lands in the step after the loss (seen here);
# the BPF-side submit failures count the same drops on time.
LOSS_COUNTERS = ("bpf_submit_failed", "userspace_dropped", "malformed")


def search(config: Bpfaudit, binary: str, seconds: float, log: Callable[[str], None], start: float,
           max_steps: int, quiet: Optional[QuietWaiter]) -> Dict[str, object]:
    steps: List[Dict[str, object]] = []
    history: List[Step] = []
    rate = next_rate(history, start=start, max_steps=max_steps)
    while rate is not None:
        foreign = quiet() if quiet else []
        res, extra = config.measure(GetppidJob(binary, seconds, rate, auid=1000))
        losses = extra["losses"]
        lossless = extra["lost"] == 0 and not any(losses[k] for k in LOSS_COUNTERS)
        history.append(Step(rate, res.calls_per_s, lossless))
        steps.append({"target_per_s": rate, "achieved_per_s": res.calls_per_s,
                      "records": extra["records"], "emitted": extra["emitted"], "lost": extra["lost"],
                      "lossless": lossless, "losses": losses, "foreign_tracers": len(foreign)})
        log(f"S3 {config.name}: target {rate:,.0f}/s achieved {res.calls_per_s:,.0f}/s: "
            f"{extra['records']} records, {extra['lost']} lost")
        rate = next_rate(history, start=start, max_steps=max_steps)
    # generator-bound: the ceiling is a lower bound (the tracer never lost at the highest rate issued)
    return {"steps": steps, "ceiling_per_s": ceiling(history), "generator_bound": bounds(history)[2]}


def run_s3(binary: str, seconds: float, log: Callable[[str], None], start: float = 25_000,
           max_steps: int = 12, quiet: Optional[QuietWaiter] = None, transport: str = DEFAULT_TRANSPORT
           ) -> Dict[str, object]:
    from tracer.kaudit.state import auditctl, kernel_audit_session
    from tracer.rules import parse_text

    out: Dict[str, object] = {}
    with kernel_audit_session():
        auditctl("-D")
        kstate.set_enabled(0)
        kstate.fast_path(True)
        for key, (decode, used, label) in setups(transport).items():
            config = Bpfaudit(f"bpfaudit, {label}", parse_text(kstate.BENCH_RULE), decode=decode,
                              page_cnt=PAGE_CNT, transport=used)
            with opened([config], log):
                found = search(config, binary, seconds, log, start, max_steps, quiet)
            out[f"S3-{key}"] = {
                "title": f"S3 lossless ceiling, {label} (records/s)", "consumer": label, "transport": used,
                **found,
                "notes": [f"S3: rule `{kstate.BENCH_RULE}`, auid 1000, paced getppid, {seconds:g} s per step; "
                          f"rate doubled from {start:,.0f}/s until loss, then bisected to within 15%; "
                          "a step that reaches under 90% of its target ends the search (generator-bound)",
                          "S3: lossless = emitted == delivered and no BPF submit failure, user-space drop or "
                          "malformed sample (perf_lost arrives a step late, so it is reported, not used)",
                          f"S3: perf ring {PAGE_CNT} pages/CPU, wakeup every {config.options['wakeup_events']} samples, 100 ms drain; perf-ring: "
                          "rings read in poll(); bcc: reader thread + queue; ringbuf: one ring of the same pages, "
                          f"a wake-up every {config.options['wakeup_events']} records per CPU, read in poll()"],
            }
    return out


def s3_targets(scenarios: Dict[str, Dict]) -> list:
    out = []
    for key in TARGETED:
        s = scenarios.get(f"S3-{key}")
        if s:
            label = s["consumer"]
            note = "generator-bound: the tracer lost nothing at the highest rate issued" \
                if s.get("generator_bound") else ""
            out.append(at_least("S3", f"lossless records/s, {label}", s["ceiling_per_s"], 500_000, note))
    return out
