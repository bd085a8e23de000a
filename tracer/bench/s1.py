"""S1, the null-syscall tax: stock auid rules loaded, the caller's auid unset, so nothing matches."""

from __future__ import annotations

import copy
from typing import Callable, Dict, List, Optional, Sequence

from tracer.bench import kstate
from tracer.bench.builds import Build, build_configs, build_row, builds_note
from tracer.bench.configs import Bare, BareAuditContext, Bpfaudit, EmptyProbes, KernelAudit, bpf_run_stats
from tracer.bench.quiet import QuietWaiter
from tracer.bench.runner import interleave, opened
from tracer.bench.stats import ConfigResult, at_most, ratio, summarize
from tracer.bench.workload import GetppidJob


def run_s1(binary: str, reps: int, seconds: float, log: Callable[[str], None],
           quiet: Optional[QuietWaiter] = None, builds: Sequence[Build] = ()) -> Dict[str, object]:
    from tracer.kaudit.auditd import AuditdRun
    from tracer.kaudit.state import kernel_audit_session
    from tracer.rules import parse_text

    job = GetppidJob(binary, seconds, auid=None)
    with kernel_audit_session():
        loaded, refused, files = kstate.prepare_stock_rules()
        unlisted = parse_text("\n".join(loaded))
        listed = parse_text("\n".join(loaded + [kstate.BENCH_RULE]))
        configs = [
            Bare(),
            KernelAudit("kernel audit, getppid unlisted"),
            KernelAudit("kernel audit, getppid listed", extra_rule=kstate.BENCH_RULE),
            EmptyProbes(raw=False),
            EmptyProbes(raw=True),
            Bpfaudit("bpfaudit, getppid unlisted", unlisted),
            Bpfaudit("bpfaudit, getppid listed", listed),
            BareAuditContext(),
            *build_configs(builds, "getppid unlisted", "\n".join(loaded)),
            *build_configs(builds, "getppid listed", "\n".join(loaded + [kstate.BENCH_RULE])),
        ]
        # one auditd for the whole scenario: nothing matches, so it only has to be there
        with AuditdRun(tuned=False):
            kstate.set_enabled(0)
            with opened(configs, log):
                results = interleave(configs, reps, job, log, quiet, metric="cpu")
                for c in configs:
                    if c.program_ids():
                        log(f"bpf_stats run: {c.name}")
                        results[c.name].extra["bpf_stats"] = bpf_run_stats(c, job)
    notes = [f"rules: the {len(loaded)} `-a` lines of {len(files)} files "
             f"/usr/share/doc/auditd/examples/rules/30-ospp-v42*.rules",
             f"listed: plus `{kstate.BENCH_RULE}` (getppid passes the per-syscall pre-filter, auid rejects)",
             "workload: getppid loop, auid unset; bare and BPF rows run without an audit context (-a never,task)",
             "S1 ranks by the workload thread's CPU time per call (nothing blocks when nothing matches; "
             "time descheduled by other load is left out); wall and 10 ms-slice medians are in the JSON"]
    notes += [f"refused by the kernel, left out on both sides: {r}" for r in refused]
    notes += builds_note(builds, "consumed by discard()")
    out: Dict[str, object] = {}
    for variant in ("unlisted", "listed"):
        names = ["bare", f"kernel audit, getppid {variant}", "empty classic tracepoint", "empty raw tracepoint",
                 f"bpfaudit, getppid {variant}", "bare, audit context",
                 *(build_row(b.label, f"getppid {variant}") for b in builds)]
        rows: List[ConfigResult] = [copy.deepcopy(results[n]) for n in names]
        summarize(rows, "bare", f"kernel audit, getppid {variant}")
        out[f"S1-{variant}"] = {
            "title": f"S1 null-syscall tax, getppid {variant} by the rules (workload CPU ns per getppid)",
            "rows": [r.to_json() for r in rows], "notes": notes,
        }
    return out


def s1_targets(scenarios: Dict[str, Dict]) -> list:
    targets = []
    for variant in ("unlisted", "listed"):
        s = scenarios.get(f"S1-{variant}")
        if not s:
            continue
        rows = {r["name"]: r for r in s["rows"]}
        ours = rows[f"bpfaudit, getppid {variant}"]["added_ns"]
        floor = rows["empty raw tracepoint"]["added_ns"]
        ka = rows[f"kernel audit, getppid {variant}"]["added_ns"]
        targets.append(at_most("S1", f"{variant}: bpfaudit added / empty-raw-tracepoint added",
                               ratio(ours, floor), 1.2))
        floor_share = ratio(floor, ka)
        targets.append(at_most("S1", f"{variant}: bpfaudit added / kernel audit added", ratio(ours, ka), 0.5,
                               f"the empty raw-tracepoint pair alone: {floor_share:.3f}" if floor_share is not None else ""))
    return targets

