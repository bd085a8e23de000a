"""S8's pure parts: its targets and its CPU table from a report (no BPF, no workload)."""

from __future__ import annotations

from rich.console import Console

from tracer.bench.s2 import TUNED_NAME
from tracer.bench.s8 import proc_cpu, s8_targets
from tracer.bench.table import build_tables


def report(ceiling_audit, ceiling_json, cpu_audit, cpu_kaudit):
    steps = [{"target_per_s": 1_000_000, "achieved_per_s": 999_998, "records": 2_999_997, "lost": 0,
              "lossless": True}]
    return {
        "S8-audit": {"title": "S8 audit", "consumer": "trace -o FILE --format audit", "steps": steps,
                     "ceiling_per_s": ceiling_audit, "generator_bound": False},
        "S8-json": {"title": "S8 json", "consumer": "trace -o FILE --format json", "steps": steps,
                    "ceiling_per_s": ceiling_json, "generator_bound": True},
        "S8-cpu": {"kind": "cpu", "title": "S8 cpu", "cpu_s_per_100k": {
            "bpfaudit trace --format audit": cpu_audit, "bpfaudit trace --format json": cpu_audit * 2,
            TUNED_NAME: cpu_kaudit},
            "runs": {name: {"written": 200_000, "consumer_cpu_s": 1.0} for name in (
                "bpfaudit trace --format audit", "bpfaudit trace --format json", TUNED_NAME)}},
    }


def test_targets_judge_the_paced_rate_and_the_cpu_ratio():
    rep = report(1_200_000, 900_000, 0.1, 1.0)
    rep["S8-json"]["steps"] = [dict(rep["S8-json"]["steps"][0], lost=5, lossless=False),
                               {"target_per_s": 500_000, "achieved_per_s": 499_999, "records": 1, "lost": 0,
                                "lossless": True},
                               {"target_per_s": 2_000_000, "achieved_per_s": 1_100_000, "records": 1, "lost": 0,
                                "lossless": True}]  # lossless, but the generator did not keep pace
    got = {t.text: t for t in s8_targets(rep)}
    audit = got["every record at a paced rate of /s, trace -o FILE --format audit"]
    assert audit.met is True and audit.value == 1_000_000  # 999,998/s achieved of 1,000,000: kept pace
    json_ = got["every record at a paced rate of /s, trace -o FILE --format json"]
    assert json_.met is False and json_.value == 500_000
    ratio = got[f"CPU per 100k records, trace --format audit / {TUNED_NAME}"]
    assert ratio.value == 0.1 and ratio.met is True
    assert got[f"CPU per 100k records, trace --format json / {TUNED_NAME}"].value == 0.2


def test_cpu_scenario_prints_as_its_own_table():
    tables = build_tables({"scenarios": report(1e6, 1e6, 0.1, 1.0), "targets": []})
    console = Console(record=True, width=200)
    for t in tables:
        console.print(t)
    text = console.export_text()
    assert "CPU s per 100k" in text and TUNED_NAME in text and "0.1000" in text


def test_proc_cpu_reads_this_process():
    before = proc_cpu(__import__("os").getpid())
    sum(i * i for i in range(300_000))
    assert proc_cpu(__import__("os").getpid()) >= before >= 0
