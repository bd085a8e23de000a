"""S2, the cost per recorded syscall: auid 1000 and a rule matching every getppid.

bpfaudit is judged twice against the targets: with the per-record consumer
(poll() decodes every record, as `bpfaudit trace` does) and with the fastest
consumer, the transport alone (CaptureSession.discard(): samples taken from the
rings undecoded), same rules and capture options.
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, List, Optional, Sequence

from tracer.bench import kstate
from tracer.bench.builds import Build, BuildAgent, build_configs, builds_note
from tracer.bench.configs import Bare, Bpfaudit, EmptyProbes, KernelAudit, bpf_run_stats
from tracer.bench.quiet import QuietWaiter
from tracer.bench.runner import interleave, opened
from tracer.bench.stats import ConfigResult, at_most, ratio, summarize
from tracer.bench.workload import GetppidJob
from tracer.capture.session import DEFAULT_TRANSPORT, DEFAULT_WAKEUP

TUNED_BACKLOG = 8192
TRANSPORT_SHAPE = {
    "perf-ring": f"perf rings read in poll(), 1024 pages/CPU, wakeup {DEFAULT_WAKEUP}, 100 ms drain",
    "ringbuf": f"one BPF ring buffer of 1024 pages per CPU, shared; BPF_RB_NO_WAKEUP but every {DEFAULT_WAKEUP}th "
               "record of a CPU; 100 ms drain",
    "bcc": f"bcc's perf buffer, 1024 pages/CPU, a callback per sample into a queue, wakeup {DEFAULT_WAKEUP}, "
           "100 ms drain",
}
DEFAULT_NAME = "kernel audit + auditd default"
TUNED_NAME = "kernel audit + auditd tuned"
OURS = "bpfaudit"
FLOOR_NAME = "empty raw tracepoint"  # EmptyProbes(raw=True).name
OURS_DISCARD = "bpfaudit, transport-only consumer"
# row name -> how the targets name its consumer
JUDGED = {OURS: "per-record consumer", OURS_DISCARD: "transport-only consumer"}
# the --baseline-rev rows ("bpfaudit @8b817fd, transport-only consumer"): records of an older
# build need no decoding by anyone, and the per-record consumer loses most of them anyway
BUILD_ROWS = "transport-only consumer"



def summarize_both_kaudits(results: Dict[str, ConfigResult]) -> List[ConfigResult]:
    """The rows, each against bare and the tuned kernel audit (summarize()), and against the default one too."""
    rows = list(results.values())
    summarize(rows, "bare", TUNED_NAME)
    default = results[DEFAULT_NAME]
    for r in rows:
        r.extra["x_kaudit_default"] = ratio(r.median_ns, default.median_ns)
        r.extra["added_vs_kaudit_default"] = ratio(r.added_ns, default.added_ns)
    return rows

def other_transport(transport: str) -> str:
    """The transport measured beside the judged one (no target): perf-ring and ringbuf each other's."""
    return "perf-ring" if transport == "ringbuf" else "ringbuf"


def beside_name(transport: str) -> str:
    return f"bpfaudit, {other_transport(transport)} transport"


def run_s2(binary: str, reps: int, seconds: float, log: Callable[[str], None],
           quiet: Optional[QuietWaiter] = None, transport: str = DEFAULT_TRANSPORT,
           builds: Sequence[Build] = ()) -> Dict[str, object]:
    from tracer.kaudit.auditd import AuditdRun
    from tracer.rules import parse_text

    job = GetppidJob(binary, seconds, auid=1000)
    beside = beside_name(transport)
    with kstate.one_rule_session(kstate.BENCH_RULE) as before:
        configs = [
            Bare(),
            KernelAudit(DEFAULT_NAME, auditd=functools.partial(AuditdRun, tuned=False)),
            KernelAudit(TUNED_NAME, auditd=functools.partial(AuditdRun, tuned=True), backlog_limit=TUNED_BACKLOG),
            EmptyProbes(raw=True),  # the floor of any tracer on these tracepoints, for the targets' notes
            Bpfaudit(OURS, parse_text(kstate.BENCH_RULE), transport=transport),
            Bpfaudit(OURS_DISCARD, parse_text(kstate.BENCH_RULE), transport=transport, decode=False),
            Bpfaudit(beside, parse_text(kstate.BENCH_RULE), transport=other_transport(transport)),
            *build_configs(builds, BUILD_ROWS, kstate.BENCH_RULE, decode=False, transport=transport),
        ]
        measured = [c.name for c in configs if isinstance(c, (Bpfaudit, BuildAgent))]
        with opened(configs, log):
            results = interleave(configs, reps, job, log, quiet)
            # the transport-only consumer's too: the programs are the same, but a submission that
            # fails on a full ring (most of them with the per-record consumer) costs less than one that lands
            for config in (c for c in configs if c.name in measured):
                log(f"bpf_stats run: {config.name}")
                results[config.name].extra["bpf_stats"] = bpf_run_stats(config, job)
    rows = summarize_both_kaudits(results)
    for ours in (results[n] for n in measured):
        ours.extra["lost_total"] = sum(run["lost"] for run in ours.extra["runs"])
        ours.extra["records_total"] = sum(run["records"] for run in ours.extra["runs"])
    return {"S2": {
        "title": "S2 cost per recorded syscall, every getppid matches (wall ns per getppid; x kaudit = tuned)",
        "rows": [r.to_json() for r in rows],
        "notes": [f"rule: `{kstate.BENCH_RULE}`; workload auid 1000",
                  f"default: Debian auditd.conf, backlog_limit as found ({before.backlog_limit}); "
                  f"tuned: flush=NONE, log_format=RAW, backlog_limit {TUNED_BACKLOG}",
                  f"bpfaudit: capture session as `bpfaudit trace --transport {transport}` opens it ({TRANSPORT_SHAPE[transport]}), "
                  "every record decoded by poll() in the benchmark process",
                  f"{OURS_DISCARD}: the same capture session and rules, consumed by discard() (samples taken "
                  "from the rings undecoded, as S3's transport-only consumer): the fastest consumer",
                  f"{beside}: the same, {TRANSPORT_SHAPE[other_transport(transport)]}",
                  "S2 ranks by wall time per call: kernel audit's backlog waits and the consumer's CPU are the cost",
                  "a submission that fails on a full ring costs BPF less than one that lands (see bpf_stats exit): "
                  "a lossy row's added cost is that of the records it dropped too; the transport-only row's is "
                  "that of every record delivered", *builds_note(builds, "consumed by discard()")],
    }}


def s2_targets(scenarios: Dict[str, Dict]) -> list:
    s = scenarios.get("S2")
    if not s:
        return []
    rows = {r["name"]: r for r in s["rows"]}
    floor = rows.get(FLOOR_NAME)
    # what the empty programs alone cost against each target: below it no tracer on
    # these tracepoints can go, whatever it records
    floor_of = {
        kaudit: (f"; the empty raw-tracepoint pair alone: {ratio(floor['added_ns'], rows[kaudit]['added_ns']):.4f}"
                 if floor and floor.get("added_ns") is not None and rows[kaudit].get("added_ns") else "")
        for kaudit in (TUNED_NAME, DEFAULT_NAME)
    }
    out = []
    for name, consumer in JUDGED.items():
        ours = rows.get(name)
        if ours is None:  # reports from before the transport-only row
            continue
        lost = ours.get("lost_total")
        note = f"{lost:,} lost of {ours.get('records_total', 0) + (lost or 0):,} emitted" if lost is not None else ""
        out += [
            at_most("S2", f"bpfaudit added / tuned kernel audit added, {consumer}",
                    ratio(ours["added_ns"], rows[TUNED_NAME]["added_ns"]), 1 / 25, note + floor_of[TUNED_NAME]),
            at_most("S2", f"bpfaudit added / default kernel audit added, {consumer}",
                    ratio(ours["added_ns"], rows[DEFAULT_NAME]["added_ns"]), 1 / 150, note + floor_of[DEFAULT_NAME]),
            at_most("S2", f"bpfaudit records lost, {consumer}", lost, 0, note),
        ]
    return out
