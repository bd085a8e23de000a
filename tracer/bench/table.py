"""The results as rich tables, built from the JSON report alone (pure: no measuring here)."""

from __future__ import annotations

from typing import Dict, List, Optional

from rich.table import Table


def fmt_ns(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:,.0f}"


def fmt_x(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return f"{v:.2f}x" if v >= 0.01 else f"1/{1 / v:,.0f}" if v > 0 else f"{v:.3f}x"


def _spread(samples: List[float]) -> str:
    return f"{min(samples):,.0f}-{max(samples):,.0f}" if samples else "-"


def _issued(runs: List[Dict]) -> int:
    """Every call the workload made, warm-up included (all of them match the rule)."""
    return sum(r["calls"] + r.get("warmup", 0) for r in runs)


def _row_note(row: Dict) -> str:
    parts = []
    stats = row.get("bpf_stats")
    if stats:
        programs = [k[: -len("_ns_per_run")] for k in stats if k.endswith("_ns_per_run")]
        parts.append("bpf_stats ns/run " + " ".join(f"{k} {fmt_ns(stats[f'{k}_ns_per_run'])}" for k in programs)
                     + (f", {fmt_ns(stats['bpf_ns_per_workload_call'])} per workload call"
                        if stats.get("bpf_ns_per_workload_call") is not None else ""))
    runs = row.get("runs", [])
    if any("records" in r for r in runs):
        records, lost = sum(r["records"] for r in runs), sum(r["lost"] for r in runs)
        parts.append(f"{records:,} records, {lost:,} lost" + (f" ({lost / (records + lost):.0%})" if lost else ""))
    own = [r["own_records"] for r in runs if "own_records" in r]
    if own and sum(own):
        parts.append(f"workload's records {sum(own):,} of {_issued(runs):,} calls")
    cons = [r for r in runs if "consumer_cpu_ms" in r]
    if cons:
        busy = sum(r["consumer_cpu_ms"] for r in cons) / max(1e-9, sum(r["job_wall_ms"] for r in cons))
        parts.append(f"consumer CPU {busy:.0%} of a core")
    disturbed = sum(1 for r in runs if r.get("foreign_tracers"))
    if disturbed:
        parts.append(f"{disturbed}/{len(runs)} runs beside other syscall tracers")
    ka_lost = sum(r.get("kaudit_lost", 0) for r in runs)
    if ka_lost:
        parts.append(f"kernel audit lost {ka_lost:,}")
    recs = [r["auditd_records"] for r in runs if "auditd_records" in r]
    if recs:
        parts.append(f"auditd logged {sum(recs):,} of {_issued(runs):,} calls")
    return "; ".join(parts)


def config_table(scenario: Dict) -> Table:
    t = Table(title=scenario["title"], title_justify="left")
    for col in ("configuration", "median", "range", "added", "x bare", "x kaudit",
                "added / kaudit added", "notes"):
        t.add_column(col, justify="left" if col in ("configuration", "notes") else "right",
                     overflow="fold")
    for row in scenario["rows"]:
        t.add_row(row["name"], fmt_ns(row["median_ns"]), _spread(row["samples_ns_per_call"]),
                  fmt_ns(row["added_ns"]), fmt_x(row["x_bare"]), fmt_x(row["x_kaudit"]),
                  fmt_x(row["added_vs_kaudit"]), _row_note(row))
    return t


def steps_table(scenario: Dict) -> Table:
    bound = " or more (generator-bound)" if scenario.get("generator_bound") else ""
    t = Table(title=f"{scenario['title']}: ceiling {fmt_ns(scenario['ceiling_per_s'])}/s{bound}",
              title_justify="left")
    for col in ("target /s", "achieved /s", "records", "lost", "lossless", "other tracers"):
        t.add_column(col, justify="right")
    for s in scenario["steps"]:
        t.add_row(fmt_ns(s["target_per_s"]), fmt_ns(s["achieved_per_s"]), f"{s['records']:,}",
                  f"{s['lost']:,}", "yes" if s["lossless"] else "NO", str(s.get("foreign_tracers", 0)))
    return t


def cpu_table(scenario: Dict) -> Table:
    """S8's consumers' CPU per 100k records at one rate."""
    t = Table(title=scenario["title"], title_justify="left")
    for col in ("consumer", "records", "CPU s", "CPU s per 100k"):
        t.add_column(col, justify="left" if col == "consumer" else "right")
    for name, run in scenario["runs"].items():
        t.add_row(name, f"{run['written']:,}", f"{run['consumer_cpu_s']:.3f}",
                  f"{scenario['cpu_s_per_100k'][name]:.4f}")
    return t


def targets_table(targets: List[Dict]) -> Table:
    t = Table(title="Targets", title_justify="left")
    for col in ("scenario", "check", "measured", "limit", "met", "note"):
        t.add_column(col, justify="right" if col in ("measured", "limit") else "left")
    for g in targets:
        met = "n/a" if g["met"] is None else ("yes" if g["met"] else "NO")
        value = g["value"]
        shown = "-" if value is None else (fmt_ns(value) if abs(value) >= 100 else f"{value:.3f}")
        limit = fmt_ns(g["limit"]) if g["limit"] >= 100 else f"{g['limit']:.3f}"
        t.add_row(g["scenario"], g["text"], shown, limit, met, g.get("note", ""))
    return t


def build_tables(report: Dict) -> List[Table]:
    """Every table of a report, in scenario order, targets last."""
    from tracer.bench.overload_table import overload_tables  # it builds on this module's formatting

    out: List[Table] = []
    for name in sorted(report["scenarios"]):
        s = report["scenarios"][name]
        if s.get("kind") == "overload":
            out += overload_tables(s)
        elif s.get("kind") == "cpu":
            out.append(cpu_table(s))
        else:
            out.append(steps_table(s) if "steps" in s else config_table(s))
    if report.get("builds", {}).get("comparison"):
        out.append(builds_table(report["builds"]))
    if report.get("targets"):
        out.append(targets_table(report["targets"]))
    return out


def builds_table(builds: Dict) -> Table:
    """--baseline-rev: both builds' added cost per scenario, against the floor and kernel audit;
    "(BPF ...)": the same ratio of the bpf_stats run's BPF time per workload call."""
    comparison = builds["comparison"]
    new, old = comparison[0]["new"], comparison[0]["old"]
    t = Table(title=f"Builds side by side: @{new} (new) and @{old} (old), each in a process of its own",
              title_justify="left")
    for col in ("scenario", "unit", f"@{new} added", f"@{old} added", "new / old", "new / floor", "old / floor",
                "new / kernel audit", "old / kernel audit", "lost new / old"):
        t.add_column(col, justify="left" if col in ("scenario", "unit") or "kernel" in col else "right")
    for c in comparison:
        def vs(key: str) -> str:
            # S2/S6/S7: "tuned 0.04x, default 0.03x"; S1 has one kernel audit row
            named = len(c["kaudit"]) > 1
            return ", ".join((k["name"].replace("kernel audit + auditd ", "") + " " if named else "") + fmt_x(k[key])
                             for k in c["kaudit"])

        lost = "-" if c.get("new_lost") is None else f"{c['new_lost']:,} / {c['old_lost']:,}"
        bpf = c.get("bpf_ns_per_call")
        new_over_old = fmt_x(c["new_over_old"]) + (f" (BPF {fmt_x(bpf['new_over_old'])})" if bpf else "")
        t.add_row(c["scenario"], c["unit"], fmt_ns(c["new_added"]), fmt_ns(c["old_added"]), new_over_old,
                  fmt_x(c["new_over_floor"]), fmt_x(c["old_over_floor"]), vs("new_over"), vs("old_over"), lost)
    return t


def notes(report: Dict) -> List[str]:
    """The scenarios' notes once each, then what was skipped."""
    seen: List[str] = []
    for name in sorted(report["scenarios"]):
        for note in report["scenarios"][name].get("notes", []):
            if note not in seen:
                seen.append(note)
    seen += [f"{k} skipped: {v}" for k, v in sorted(report.get("skipped", {}).items())]
    return seen
