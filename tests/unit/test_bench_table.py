"""Benchmark tables and notes, rendered from a report dict (no measuring)."""

import io

from rich.console import Console

from tracer.bench.stats import ConfigResult, at_least, at_most, summarize
from tracer.bench.table import build_tables, fmt_x, notes


def render(table) -> str:
    buf = io.StringIO()
    Console(file=buf, width=220, color_system=None).print(table)
    return buf.getvalue()


def s1_report():
    rows = summarize([ConfigResult("bare", [500.0, 520.0, 510.0]),
                      ConfigResult("kernel audit", [900.0, 950.0, 1000.0]),
                      ConfigResult("bpfaudit", [800.0, 812.0, 790.0],
                                   extra={"bpf_stats": {"enter_ns_per_run": 120.0, "exit_ns_per_run": 60.0},
                                          "runs": [{"calls": 10, "own_records": 0, "foreign_tracers": 2,
                                                    "records": 7, "lost": 1},
                                                   {"calls": 10, "own_records": 0, "foreign_tracers": 0,
                                                    "records": 5, "lost": 0}]})],
                     "bare", "kernel audit")
    return {
        "scenarios": {
            "S1-listed": {"title": "S1 title", "rows": [r.to_json() for r in rows], "notes": ["rules: x"]},
            "S3": {"title": "S3 title", "ceiling_per_s": 123456.0, "notes": ["rules: x", "paced"],
                   "steps": [{"target_per_s": 100000, "achieved_per_s": 99999.0, "records": 199998,
                              "lost": 0, "lossless": True},
                             {"target_per_s": 200000, "achieved_per_s": 199000.0, "records": 390000,
                              "lost": 8000, "lossless": False, "foreign_tracers": 1}]},
        },
        "targets": [at_most("S1", "added ratio", 0.6, 0.5).to_json(),
                    at_least("S3", "ceiling", 123456.0, 500000).to_json()],
        "skipped": {"S5": "not implemented"},
    }


def test_one_table_per_scenario_then_targets():
    tables = build_tables(s1_report())
    assert [t.title.split()[0] for t in tables] == ["S1", "S3", "Targets"]


def test_config_table_shows_medians_ratios_and_notes():
    text = render(build_tables(s1_report())[0])
    bpf_line = next(ln for ln in text.splitlines() if "bpfaudit" in ln)
    assert "800" in bpf_line  # median
    assert "790-812" in bpf_line  # range
    assert "292" in bpf_line  # paired added over bare
    assert "1.57x" in bpf_line  # 800 / 510
    assert "enter 120 exit 60" in text
    assert "1/2 runs beside other syscall tracers" in text
    assert "12 records, 1 lost" in text


def test_paired_added_in_table_is_the_median_of_round_differences():
    rows = s1_report()["scenarios"]["S1-listed"]["rows"]
    ours = next(r for r in rows if r["name"] == "bpfaudit")
    assert ours["added_ns"] == 292.0  # rounds: 300, 292, 280


def test_steps_table_marks_lossy_steps():
    text = render(build_tables(s1_report())[1])
    assert "123,456/s" in text
    lossy = next(ln for ln in text.splitlines() if "200,000" in ln)
    assert "NO" in lossy and "8,000" in lossy


def test_targets_table_says_met_or_not():
    text = render(build_tables(s1_report())[2])
    assert "NO" in text and "0.600" in text and "500,000" in text


def test_notes_are_deduplicated_and_list_skipped_scenarios():
    assert notes(s1_report()) == ["rules: x", "paced", "S5 skipped: not implemented"]


def test_fmt_x_small_ratios_as_fractions():
    assert fmt_x(2.0) == "2.00x"
    assert fmt_x(0.004) == "1/250"
    assert fmt_x(None) == "-"


def test_consumer_cpu_note():
    from tracer.bench.table import _row_note

    row = {"runs": [{"calls": 1, "consumer_cpu_ms": 50.0, "job_wall_ms": 100.0},
                    {"calls": 1, "consumer_cpu_ms": 100.0, "job_wall_ms": 100.0}]}
    assert "consumer CPU 75% of a core" in _row_note(row)
