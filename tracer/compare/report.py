"""Pure functions: comparison cells -> the JSON report -> rich tables. The
table is rendered from the report dict, so what the screen and --json say
cannot disagree."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from rich.console import Group
from rich.table import Table

from tracer.compare.cells import BASELINE, Cell

REPORT_VERSION = 1
MAX_DIFF_ROWS = 30


def _ratio(value: Optional[float], base: Optional[float]) -> Optional[float]:
    if value is None or not base:
        return None
    return value / base


def differences(audit: Cell, bpf: Cell) -> List[dict]:
    """Observations the two engines did not record equally often, most different first."""
    rows = []
    for obs in set(audit.observations) | set(bpf.observations):
        a, b = audit.observations.get(obs, 0), bpf.observations.get(obs, 0)
        if a != b:
            rows.append({"rules": audit.rules, **obs.to_dict(), "audit": a, "bpf": b})
    rows.sort(key=lambda r: (-abs(r["audit"] - r["bpf"]), r["key"], r["syscall"], r["comm"]))
    return rows


def cell_dict(cell: Cell, baseline: Optional[Cell]) -> dict:
    base_wall = baseline.wall_median if baseline else None
    base_cpu = baseline.cpu_median if baseline else None
    return {
        "engine": cell.engine,
        "rules": cell.rules,
        "label": cell.label,
        "runs": [{"ses": r.ses, "wall_s": r.wall_s, "cpu_s": r.cpu_s, "returncode": r.returncode}
                 for r in cell.runs],
        "wall_s_median": cell.wall_median,
        "cpu_s_median": cell.cpu_median,
        "wall_ratio": _ratio(cell.wall_median, base_wall),
        "cpu_ratio": _ratio(cell.cpu_median, base_cpu),
        "records": cell.records,
        "by_key": dict(sorted(cell.by_key().items())),
        "by_syscall": dict(sorted(cell.by_syscall().items())),
        "losses": cell.losses,
        "notes": list(cell.notes),
    }


def build_report(cells: Sequence[Cell], command: Sequence[str], runs: int, auid: int,
                 machine: Optional[dict] = None) -> dict:
    """The --json document: every cell, ratios to the baseline, and per rule set the
    events kernel audit and bpfaudit disagree on."""
    baseline = next((c for c in cells if c.engine == BASELINE), None)
    diffs: List[dict] = []
    agree: Dict[str, bool] = {}
    for rules in dict.fromkeys(c.rules for c in cells if c.engine != BASELINE):
        audit = next((c for c in cells if c.engine == "audit" and c.rules == rules), None)
        bpf = next((c for c in cells if c.engine == "bpf" and c.rules == rules), None)
        if audit and bpf:
            rows = differences(audit, bpf)
            diffs += rows
            agree[rules] = audit.by_key() == bpf.by_key()
    return {
        "version": REPORT_VERSION,
        "command": list(command),
        "runs": runs,
        "auid": auid,
        "machine": machine or {},
        "cells": [cell_dict(c, baseline) for c in cells],
        "per_key_agree": agree,
        "differences": diffs,
    }


def _fmt_ratio(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _fmt_s(v: Optional[float]) -> str:
    return "-" if v is None else f"{v * 1000:.1f} ms"


def _count_table(title: str, cells: List[dict], field: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(field.replace("by_", ""))
    for c in cells:
        table.add_column(_header(c), justify="right", overflow="fold")
    names = sorted({n for c in cells for n in c[field]})
    for name in names:
        counts = [c[field].get(name, 0) for c in cells]
        style = "bold red" if len(set(counts)) > 1 else None
        table.add_row(name, *(str(n) for n in counts), style=style)
    table.add_row("total", *(str(c["records"]) for c in cells), end_section=True)
    return table


def _header(c: dict) -> str:
    """Column header: engine over the rule set's name (file name without .rules)."""
    if c["engine"] == BASELINE:
        return BASELINE
    stem = c["rules"][:-6] if c["rules"].endswith(".rules") else c["rules"]
    return f"{c['engine']}\n{stem}"


def _n(v) -> str:
    return "-" if v is None else str(v)


def _loss_table(cells: List[dict]) -> Table:
    table = Table(title="losses (bpf: the loss ledger; audit: kernel counters over the cell)", title_justify="left")
    for col in ("cell", "emitted", "delivered", "lost", "perf ring reported", "seq gaps", "reconciled",
                "kernel lost", "backlog max", "backlog wait (ticks)"):
        table.add_column(col, justify="left" if col == "cell" else "right", no_wrap=col == "cell")
    for c in cells:
        losses = c["losses"]
        if c["engine"] == "bpf":
            ka = losses.get("kernel_audit", {})
            table.add_row(_header(c), _n(losses.get("emitted")), _n(losses.get("delivered")), _n(losses.get("lost")),
                          _n(losses.get("cross_checks", {}).get("perf_lost")),
                          _n(losses.get("cross_checks", {}).get("seq_gaps")),
                          "yes" if losses.get("reconciled") else "[bold red]NO[/]",
                          _n(ka.get("lost_delta")), _n(ka.get("backlog_max")),
                          _n(ka.get("backlog_wait_time_actual_delta")))
        elif c["engine"] == "audit":
            table.add_row(_header(c), "-", _n(c["records"]), "-", "-", "-", "-",
                          _n(losses.get("lost_delta")), _n(losses.get("backlog_max")),
                          _n(losses.get("backlog_wait_time_actual_delta")))
    return table


def render_report(report: dict) -> Group:
    """The side-by-side view: cost and losses, records per key and per syscall, differing events."""
    cells = report["cells"]
    engine_cells = [c for c in cells if c["engine"] != BASELINE]
    cost = Table(title=f"cost of `{' '.join(report['command'])}`: median of {report['runs']} runs "
                       f"as login uid {report['auid']}", title_justify="left")
    for col in ("cell", "wall", "wall ratio", "CPU", "CPU ratio", "records"):
        cost.add_column(col, justify="left" if col == "cell" else "right")
    for c in cells:
        cost.add_row(_header(c), _fmt_s(c["wall_s_median"]), _fmt_ratio(c["wall_ratio"]),
                     _fmt_s(c["cpu_s_median"]), _fmt_ratio(c["cpu_ratio"]),
                     "-" if c["engine"] == BASELINE else str(c["records"]), end_section=True)
    parts: list = [cost]
    if engine_cells:
        parts.append(_loss_table(engine_cells))
        parts.append(_count_table("records per key", engine_cells, "by_key"))
        parts.append(_count_table("records per syscall", engine_cells, "by_syscall"))
    for rules, same in report["per_key_agree"].items():
        parts.append(f"{rules}: kernel audit and bpfaudit per-key counts "
                     + ("[green]agree[/]" if same else "[bold red]differ[/]"))
    diffs = report["differences"]
    if diffs:
        table = Table(title=f"differing events ({len(diffs)}"
                      + (f", first {MAX_DIFF_ROWS}" if len(diffs) > MAX_DIFF_ROWS else "") + ")",
                      title_justify="left")
        for col in ("rules", "key", "syscall", "result", "comm", "audit", "bpf"):
            table.add_column(col, justify="right" if col in ("audit", "bpf") else "left")
        for d in diffs[:MAX_DIFF_ROWS]:
            result = "ok" if d["success"] else f"errno {d['errno']}"
            table.add_row(d["rules"], d["key"], d["syscall"], result, d["comm"], str(d["audit"]), str(d["bpf"]))
        parts.append(table)
    notes = [f"{c['label']}: {n}" for c in cells for n in c["notes"]]
    parts += notes
    return Group(*parts)
