"""S1's targets from a report dict (no measuring): bpfaudit against the empty-program floor and
against kernel audit, and what the floor alone costs against kernel audit."""

from tracer.bench.s1 import s1_targets
from tracer.bench.stats import ConfigResult, summarize


def s1_scenario(variant, kaudit_ns, floor_ns, ours_ns):
    rows = summarize([
        ConfigResult("bare", [125.0, 126.0, 124.0]),
        ConfigResult(f"kernel audit, getppid {variant}", [kaudit_ns] * 3),
        ConfigResult("empty raw tracepoint", [floor_ns] * 3),
        ConfigResult(f"bpfaudit, getppid {variant}", [ours_ns] * 3),
    ], "bare", f"kernel audit, getppid {variant}")
    return {"rows": [r.to_json() for r in rows]}


def test_each_variant_is_judged_against_the_floor_and_kernel_audit_with_the_floors_share():
    scenarios = {"S1-unlisted": s1_scenario("unlisted", 425.0, 275.0, 280.0),
                 "S1-listed": s1_scenario("listed", 465.0, 275.0, 300.0)}
    got = [(t.text, round(t.value, 3), t.met, t.note) for t in s1_targets(scenarios)]
    assert got == [
        ("unlisted: bpfaudit added / empty-raw-tracepoint added", round(155 / 150, 3), True, ""),
        ("unlisted: bpfaudit added / kernel audit added", round(155 / 300, 3), False,
         "the empty raw-tracepoint pair alone: 0.500"),
        ("listed: bpfaudit added / empty-raw-tracepoint added", round(175 / 150, 3), True, ""),
        ("listed: bpfaudit added / kernel audit added", round(175 / 340, 3), False,
         f"the empty raw-tracepoint pair alone: {150 / 340:.3f}"),
    ]
    assert s1_targets({}) == []
