"""S4, macro workloads under the stock auid rules: `make -j2` of a generated C project and `dd bs=1`."""

from __future__ import annotations

import functools
from typing import Callable, Dict, List, Optional

from tracer.bench import kstate
from tracer.bench.configs import Bare, Bpfaudit, KernelAudit
from tracer.bench.macro import MakeJob, Project, dd_job
from tracer.bench.quiet import QuietWaiter
from tracer.bench.runner import interleave, opened
from tracer.bench.stats import ConfigResult, at_most, summarize

KAUDIT = "kernel audit + auditd default"
OURS = "bpfaudit"
DD_BYTES = 200_000
METRIC_FIELDS = {"wall": "wall_ns_per_call", "cpu": "cpu_ns_per_call"}


def rows_for(results: Dict[str, ConfigResult], metric: str) -> List[ConfigResult]:
    """The same runs re-read as milliseconds of wall or CPU time per job, summarized."""
    rows = []
    for r in results.values():
        runs = r.extra["runs"]
        extra = {k: v for k, v in r.extra.items() if k != "runs"}
        extra["runs"] = runs
        rows.append(ConfigResult(r.name, [run[METRIC_FIELDS[metric]] / 1e6 for run in runs], extra))
    return summarize(rows, "bare", KAUDIT)


def run_s4(reps: int, log: Callable[[str], None], quiet: Optional[QuietWaiter] = None) -> Dict[str, object]:
    from tracer.kaudit.auditd import AuditdRun
    from tracer.kaudit.state import kernel_audit_session
    from tracer.rules import parse_text

    with kernel_audit_session():
        loaded, _refused, _files = kstate.prepare_stock_rules()
        configs = [Bare(), KernelAudit(KAUDIT, auditd=functools.partial(AuditdRun, tuned=False), count_key=None),
                   Bpfaudit(OURS, parse_text("\n".join(loaded)), own=None)]
        with Project() as root, opened(configs, log):
            jobs = {"make": MakeJob(root, 1000), "dd": dd_job(DD_BYTES, 1000)}
            results = {name: interleave(configs, reps, job, log, quiet, metric="wall") for name, job in jobs.items()}
    notes = [f"S4: the {len(loaded)} stock OSPP `-a` lines as in S1, workloads in a login session (auid 1000); "
             f"make -j2 builds 25 generated C files from clean; dd copies {DD_BYTES:,} bytes with bs=1"]
    out: Dict[str, object] = {}
    for name, res in results.items():
        for metric in ("wall", "cpu"):
            out[f"S4-{name}-{metric}"] = {
                "title": f"S4 {'make -j2' if name == 'make' else 'dd bs=1'}, {metric} ms per run",
                "rows": [r.to_json() for r in rows_for(res, metric)], "notes": notes}
    return out


def s4_targets(scenarios: Dict[str, Dict]) -> list:
    out = []
    for key in ("S4-make-wall", "S4-make-cpu", "S4-dd-wall", "S4-dd-cpu"):
        s = scenarios.get(key)
        if not s:
            continue
        rows = {r["name"]: r for r in s["rows"]}
        what = key[3:].replace("-", " ")
        if key == "S4-make-wall":
            out.append(at_most("S4", "make wall / bare", rows[OURS]["x_bare"], 1.05))
        out.append(at_most("S4", f"{what}: bpfaudit / kernel audit", rows[OURS]["x_kaudit"], 1.0))
    return out
