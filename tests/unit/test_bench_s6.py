"""S6, the exec scenario, without root: its workload's command line, auditd's records counted by
the children's ppid, and the targets and table from a report dict (no measuring)."""

import io

import pytest
from rich.console import Console

from tracer.bench.configs import count_logged
from tracer.bench.s2 import DEFAULT_NAME, FLOOR_NAME, TUNED_NAME
from tracer.bench.s6 import OURS, add_cpu_view, s6_targets
from tracer.bench.stats import ConfigResult, summarize
from tracer.bench.table import build_tables
from tracer.bench.workload import ExecJob, exec_command, parse_output
from tracer.errors import BpfauditError


def s6_report(ours_ns=(700_000.0, 701_000.0, 699_000.0), lost=(0, 0, 0)):
    runs = [{"calls": 1000, "warmup": 20, "records": 1020 - x, "own_records": 1020 - x, "lost": x,
             "consumer_cpu_ms": 20.0, "job_wall_ms": 1000.0} for x in lost]
    rows = summarize([
        ConfigResult("bare", [680_000.0, 681_000.0, 679_000.0]),
        ConfigResult(DEFAULT_NAME, [760_000.0, 761_000.0, 759_000.0]),
        ConfigResult(TUNED_NAME, [740_000.0, 741_000.0, 739_000.0]),
        ConfigResult(FLOOR_NAME, [681_000.0, 682_000.0, 680_000.0]),
        ConfigResult(OURS, list(ours_ns), extra={"runs": runs}),
    ], "bare", TUNED_NAME)
    out = [r.to_json() for r in rows]
    for r in out:
        if "runs" in r:
            r["lost_total"] = sum(x["lost"] for x in r["runs"])
            r["records_total"] = sum(x["records"] for x in r["runs"])
    return {"scenarios": {"S6": {"title": "S6 cost per recorded exec", "rows": out, "notes": []}}}


def test_the_exec_target_is_half_of_tuned_kernel_audit_and_default_is_reported_beside_it():
    got = [(t.text, round(t.value, 4), t.limit, t.met) for t in s6_targets(s6_report()["scenarios"])]
    assert got == [
        ("bpfaudit added / tuned kernel audit added, per exec", round(20_000 / 60_000, 4), 0.5, True),
        ("bpfaudit added / default kernel audit added, per exec (reported; the target is tuned's)",
         round(20_000 / 80_000, 4), 0.5, True),
        ("bpfaudit records lost", 0, 0, True),
    ]
    notes = [t.note for t in s6_targets(s6_report()["scenarios"])]
    assert notes[0] == "0 lost of 3,060 emitted; the empty raw-tracepoint pair alone: 0.0167"
    assert notes[1].endswith("the empty raw-tracepoint pair alone: 0.0125")


def test_a_missed_exec_target_and_lost_records_are_marked():
    report = s6_report(ours_ns=(720_000.0, 721_000.0, 719_000.0), lost=(0, 3, 0))
    met = {t.text: t.met for t in s6_targets(report["scenarios"])}
    assert met["bpfaudit added / tuned kernel audit added, per exec"] is False  # 40,000 of 60,000
    assert met["bpfaudit records lost"] is False
    assert s6_targets({}) == []


def test_the_table_shows_the_workloads_execs_recorded():
    buf = io.StringIO()
    Console(file=buf, width=260, color_system=None).print(build_tables(s6_report())[0])
    row = next(ln for ln in buf.getvalue().splitlines() if ln.startswith(f"│ {OURS} "))
    assert "20,000" in row and "workload's records 3,060 of 3,060 calls" in row


def test_exec_loop_command_and_result():
    assert exec_command("/b/exec_loop", 1.0, "/b/exec_true") == ["/b/exec_loop", "1", "/b/exec_true"]
    r = parse_output('{"calls": 1500, "warmup": 20, "ns": 1000000000, "ns_per_call": 666666.667, '
                     '"cpu_ns_per_call": 640000.000, "slice_median_ns_per_call": 650000.000, "calls_per_s": 1500.0}',
                     pid=9)
    assert (r.calls, r.warmup, r.ns_per_call, r.cpu_ns_per_call, r.pid) == (1500, 20, 666666.667, 640000.0, 9)


def test_a_missing_exec_target_is_named(tmp_path):
    with pytest.raises(BpfauditError, match="exec target .*/nothing is missing") as err:
        ExecJob("/bin/true", 0.1, str(tmp_path / "nothing")).start()
    assert err.value.exit_code == 2


def test_auditd_records_of_the_workloads_children_are_counted_by_their_ppid():
    def syscall(n, ppid, pid):
        return f'type=SYSCALL msg=audit(1.1:{n}): arch=c000003e syscall=59 success=yes exit=0 ppid={ppid} pid={pid} key="bench"'

    log = "\n".join([syscall(5, 77, 78), 'type=EXECVE msg=audit(1.1:5): argc=1 a0="/b/exec_true"',
                     syscall(6, 77, 79), syscall(7, 1, 77), syscall(8, 770, 80)])
    assert count_logged(log, 77, field="ppid") == 2
    assert count_logged(log, 77) == 1


def test_the_same_runs_by_cpu_per_exec_are_reported_beside_the_judged_wall_time():
    def row(name, cpu):
        return ConfigResult(name, [1.0, 1.0], extra={"runs": [{"cpu_ns_per_call": c} for c in cpu]})

    rows = [row("bare", [500_000.0, 510_000.0]), row(DEFAULT_NAME, [540_000.0, 550_000.0]),
            row(TUNED_NAME, [530_000.0, 540_000.0]), row(OURS, [505_000.0, 515_000.0])]
    add_cpu_view(rows)
    cpu = rows[-1].extra["cpu"]
    assert (cpu["median_ns"], cpu["added_ns"], cpu["added_vs_kaudit"], cpu["added_vs_kaudit_default"]) == \
        (510_000.0, 5_000.0, 5_000 / 30_000, 5_000 / 40_000)
    report = s6_report()
    report["scenarios"]["S6"]["rows"][-1]["cpu"] = cpu
    [reported] = [t for t in s6_targets(report["scenarios"]) if t.text.startswith("CPU per exec")]
    assert reported.text.endswith("(reported, not judged)") and reported.met is True
    assert reported.note == "default: 0.125"
