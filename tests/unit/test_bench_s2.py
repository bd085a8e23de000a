"""S2's two bpfaudit consumers (per-record and transport-only), each judged against the targets on
its own, and both shown as rows of the S2 table (from a report dict, no measuring)."""

import io

from rich.console import Console

from tracer.bench.s2 import DEFAULT_NAME, FLOOR_NAME, OURS, OURS_DISCARD, TUNED_NAME, s2_targets
from tracer.bench.stats import ConfigResult, summarize
from tracer.bench.table import build_tables


def runs(records, lost):
    return [{"calls": 1000, "records": r, "lost": x, "consumer_cpu_ms": 500.0, "job_wall_ms": 800.0}
            for r, x in zip(records, lost)]


def s2_report():
    rows = summarize([
        ConfigResult("bare", [140.0, 138.0, 139.0]),
        ConfigResult(DEFAULT_NAME, [24000.0, 23000.0, 23500.0]),
        ConfigResult(TUNED_NAME, [17000.0, 17200.0, 17100.0]),
        # per-record consumer: +750 ns, two thirds lost; transport only: +400 ns, nothing lost
        ConfigResult(OURS, [890.0, 888.0, 889.0], extra={"runs": runs([300, 350, 320], [700, 650, 680])}),
        ConfigResult(OURS_DISCARD, [540.0, 538.0, 539.0], extra={"runs": runs([1000, 1000, 1000], [0, 0, 0])}),
    ], "bare", TUNED_NAME)
    out = [r.to_json() for r in rows]
    for r in out:
        if "runs" in r:
            r["lost_total"] = sum(x["lost"] for x in r["runs"])
            r["records_total"] = sum(x["records"] for x in r["runs"])
    return {"scenarios": {"S2": {"title": "S2 cost per recorded syscall", "rows": out, "notes": []}}}


def test_each_consumer_is_judged_on_its_own():
    targets = s2_targets(s2_report()["scenarios"])
    got = {t.text: (round(t.value, 5), t.met) for t in targets}
    assert got == {
        "bpfaudit added / tuned kernel audit added, per-record consumer": (round(750 / 16961, 5), False),
        "bpfaudit added / default kernel audit added, per-record consumer": (round(750 / 23361, 5), False),
        "bpfaudit records lost, per-record consumer": (2030, False),
        "bpfaudit added / tuned kernel audit added, transport-only consumer": (round(400 / 16961, 5), True),
        "bpfaudit added / default kernel audit added, transport-only consumer": (round(400 / 23361, 5), False),
        "bpfaudit records lost, transport-only consumer": (0, True),
    }
    notes = {t.text.split(", ")[-1]: t.note for t in targets}
    assert notes["per-record consumer"] == "2,030 lost of 3,000 emitted"
    assert notes["transport-only consumer"] == "0 lost of 3,000 emitted"


def test_cost_targets_say_what_the_empty_programs_alone_cost_against_them():
    report = s2_report()
    floor = summarize([ConfigResult("bare", [140.0, 138.0, 139.0]), ConfigResult(FLOOR_NAME, [279.0, 277.0, 278.0])],
                      "bare", None)[1].to_json()
    report["scenarios"]["S2"]["rows"].append(floor)
    notes = {t.text: t.note for t in s2_targets(report["scenarios"])}
    default = notes["bpfaudit added / default kernel audit added, transport-only consumer"]
    assert default.endswith(f"the empty raw-tracepoint pair alone: {139 / 23361:.4f}")
    assert notes["bpfaudit added / tuned kernel audit added, per-record consumer"].endswith(f"{139 / 16961:.4f}")
    assert "empty" not in notes["bpfaudit records lost, per-record consumer"]


def test_a_report_without_the_transport_only_row_is_judged_as_before():
    report = s2_report()
    report["scenarios"]["S2"]["rows"] = [r for r in report["scenarios"]["S2"]["rows"] if r["name"] != OURS_DISCARD]
    assert [t.text.split(", ")[-1] for t in s2_targets(report["scenarios"])] == ["per-record consumer"] * 3


def test_the_table_has_a_row_per_consumer_with_added_cost_and_loss():
    buf = io.StringIO()
    Console(file=buf, width=260, color_system=None).print(build_tables(s2_report())[0])
    lines = buf.getvalue().splitlines()
    per_record = next(ln for ln in lines if ln.startswith(f"│ {OURS} "))
    discard = next(ln for ln in lines if OURS_DISCARD in ln)
    assert "750" in per_record and "970 records, 2,030 lost (68%)" in per_record
    assert "400" in discard and "3,000 records, 0 lost" in discard and "lost (" not in discard
