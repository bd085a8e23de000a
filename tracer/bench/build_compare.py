"""The --baseline-rev comparison (pure, from the report's rows): each build's added cost in S1,
S2, S6 and S7, against the empty-program floor and kernel audit, and the new build's over the old's."""

from __future__ import annotations

from typing import Dict, List

from tracer.bench.builds import build_row
from tracer.bench.s2 import BUILD_ROWS as S2_BUILD_ROWS, DEFAULT_NAME, FLOOR_NAME, TUNED_NAME
from tracer.bench.s6 import BUILD_ROWS as S6_BUILD_ROWS
from tracer.bench.s7 import BUILD_ROWS as S7_BUILD_ROWS
from tracer.bench.stats import at_most, ratio

NEW_OVER_OLD_LIMIT = 1.5  # issue 12: a recorded getppid, now with PROCTITLE and exe, at most 1.5x what it cost

# scenario -> (what the build rows are called, unit, the kernel audit rows compared against)
COMPARED = {
    "S1-unlisted": ("getppid unlisted", "CPU ns per getppid", ("kernel audit, getppid unlisted",)),
    "S1-listed": ("getppid listed", "CPU ns per getppid", ("kernel audit, getppid listed",)),
    "S2": (S2_BUILD_ROWS, "wall ns per recorded getppid", (TUNED_NAME, DEFAULT_NAME)),
    "S6": (S6_BUILD_ROWS, "wall ns per exec", (TUNED_NAME, DEFAULT_NAME)),
    "S7": (S7_BUILD_ROWS, "wall ns per recorded openat", (TUNED_NAME, DEFAULT_NAME)),
}


def compare_builds(scenarios: Dict[str, Dict], new: str, old: str) -> List[Dict[str, object]]:
    """Per scenario with both builds' rows: each build's added cost, against the empty-program
    floor and kernel audit, and new / old (pure: from the report's rows)."""
    out: List[Dict[str, object]] = []
    for name, (what, unit, kaudits) in COMPARED.items():
        s = scenarios.get(name)
        if not s:
            continue
        rows = {r["name"]: r for r in s["rows"]}
        a, b = rows.get(build_row(new, what)), rows.get(build_row(old, what))
        if a is None or b is None:
            continue
        floor = rows.get(FLOOR_NAME, {}).get("added_ns")
        entry: Dict[str, object] = {
            "scenario": name, "unit": unit, "new": new, "old": old, "rows": [a["name"], b["name"]],
            "new_added": a["added_ns"], "old_added": b["added_ns"],
            "new_over_old": ratio(a["added_ns"], b["added_ns"]), "floor_added": floor,
            "new_over_floor": ratio(a["added_ns"], floor), "old_over_floor": ratio(b["added_ns"], floor),
            "new_lost": a.get("lost_total"), "old_lost": b.get("lost_total"), "kaudit": [],
        }
        bpf = [(r.get("bpf_stats") or {}).get("bpf_ns_per_workload_call") for r in (a, b)]
        if None not in bpf:  # the bpf_stats run: BPF's time per workload call, without the rounds' noise
            entry["bpf_ns_per_call"] = {"new": bpf[0], "old": bpf[1], "new_over_old": ratio(bpf[0], bpf[1])}
        if a.get("cpu") and b.get("cpu"):  # S6/S7: the same runs by CPU per call (reported beside wall)
            entry["cpu"] = {"new_added": a["cpu"]["added_ns"], "old_added": b["cpu"]["added_ns"],
                            "new_over_old": ratio(a["cpu"]["added_ns"], b["cpu"]["added_ns"])}
        for k in kaudits:
            ka = rows.get(k, {}).get("added_ns")
            entry["kaudit"].append({"name": k, "added": ka, "new_over": ratio(a["added_ns"], ka),
                                    "old_over": ratio(b["added_ns"], ka)})
        out.append(entry)
    return out


def builds_targets(comparison: List[Dict[str, object]]) -> list:
    """Issue 12: a recorded getppid (now with PROCTITLE and exe) costs at most 1.5x what it did."""
    return [at_most("S2", f"bpfaudit @{c['new']} added / @{c['old']} added (issue 12), {COMPARED['S2'][0]}",
                    c["new_over_old"], NEW_OVER_OLD_LIMIT,
                    f"{c['new_added']:,.0f} vs {c['old_added']:,.0f} ns" if c["new_over_old"] is not None else "")
            for c in comparison if c["scenario"] == "S2"]
