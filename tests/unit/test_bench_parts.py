"""Benchmark plumbing without root: workload output, scenario names, rotation, log counting, bpftool parsing."""

import json

import pytest
from typer.testing import CliRunner

from tracer.bench import cli
from tracer.bench.bpfstats import ns_per_run
from tracer.bench.configs import count_logged
from tracer.bench.kstate import stock_rule_lines
from tracer.bench.machine import cpu_model
from tracer.bench.quiet import parse_foreign
from tracer.bench.runner import rotation
from tracer.bench.suite import parse_scenarios
from tracer.bench.workload import command, parse_output
from tracer.errors import BpfauditError


def test_parse_output_takes_the_json_line():
    r = parse_output('noise\n{"calls": 1000, "warmup": 20, "ns": 500000, "ns_per_call": 500.000, '
                     '"calls_per_s": 2000000.0}\n', pid=42)
    assert (r.calls, r.warmup, r.ns, r.ns_per_call, r.calls_per_s, r.pid) == (1000, 20, 500000, 500.0, 2e6, 42)


def test_parse_output_without_result_is_an_error():
    with pytest.raises(BpfauditError, match="no result line"):
        parse_output("segfault\n")


def test_command_line_of_the_workload():
    assert command("/b/w", 1.0) == ["/b/w", "1"]
    assert command("/b/w", 0.5, 250000.4) == ["/b/w", "0.5", "250000"]


def test_scenario_names():
    assert parse_scenarios("s3, S1") == ["S1", "S3"]
    with pytest.raises(BpfauditError, match="unknown scenario S9"):
        parse_scenarios("S1,S9")
    with pytest.raises(BpfauditError) as err:
        parse_scenarios(",")
    assert err.value.exit_code == 2


def test_rotation_puts_each_configuration_first_once():
    rounds = [rotation(3, r) for r in range(3)]
    assert rounds == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    assert {r[0] for r in rounds} == {0, 1, 2}


def test_count_logged_counts_only_the_workloads_syscall_records():
    log = "\n".join([
        'type=SYSCALL msg=audit(1.1:5): arch=c000003e syscall=110 success=yes exit=1 ppid=1 pid=77 auid=1000 key="bench"',
        'type=SYSCALL msg=audit(1.1:6): arch=c000003e syscall=110 success=yes exit=1 ppid=1 pid=770 auid=1000 key="bench"',
        'type=PROCTITLE msg=audit(1.1:5): proctitle=2F pid=77 key="bench"',
        'type=SYSCALL msg=audit(1.1:7): arch=c000003e syscall=110 success=yes exit=1 ppid=1 pid=77 auid=1000 key="other"',
    ])
    assert count_logged(log, 77) == 1


def test_parse_foreign_ignores_own_and_other_tracepoints():
    perf = json.dumps([
        {"pid": 10, "fd": 3, "prog_id": 1, "fd_type": "tracepoint", "tracepoint": "sys_enter"},
        {"pid": 99, "fd": 3, "prog_id": 2, "fd_type": "tracepoint", "tracepoint": "sys_exit"},
        {"pid": 11, "fd": 3, "prog_id": 3, "fd_type": "tracepoint", "tracepoint": "sched_switch"},
        {"pid": 12, "fd": 3, "prog_id": 4, "fd_type": "kprobe", "func": "do_sys_open"},
    ])
    link = json.dumps([{"id": 5, "type": "raw_tracepoint", "prog_id": 6, "tp_name": "sys_enter"},
                       {"id": 7, "type": "raw_tracepoint", "prog_id": 8, "tp_name": "sched_switch"}])
    found = parse_foreign(perf, link, own_pid=99)
    assert [f["prog_id"] for f in found] == [1, 6]


def test_ns_per_run():
    assert ns_per_run({"run_time_ns": 100, "run_cnt": 10}, {"run_time_ns": 1100, "run_cnt": 20}) == 100
    assert ns_per_run({"run_time_ns": 100, "run_cnt": 10}, {"run_time_ns": 100, "run_cnt": 10}) is None


def test_cpu_model():
    assert cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    assert cpu_model("") == "unknown"


def test_stock_rules_are_only_a_lines(tmp_path):
    (tmp_path / "30-ospp-v42-1.rules").write_text("-D\n-b 8192\n## c\n-a always,exit -S open -k k\n-e 2\n")
    (tmp_path / "30-ospp-v42.rules").write_text("-a always,exit -S unlink -k d\n-w /etc -p wa\n")
    lines, files = stock_rule_lines(str(tmp_path / "30-ospp-v42*.rules"))
    assert lines == ["-a always,exit -S open -k k", "-a always,exit -S unlink -k d"]
    assert len(files) == 2


def test_cli_refuses_bad_scenarios_with_exit_2(monkeypatch):
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    result = CliRunner().invoke(cli.app, ["--scenarios", "S9"])
    assert result.exit_code == 2
    assert "unknown scenario S9" in result.output


def test_cli_needs_root(monkeypatch):
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000)
    result = CliRunner().invoke(cli.app, [])
    assert result.exit_code == 2 and "needs root" in result.output


def test_metric_picks_wall_or_cpu_time():
    from tracer.bench.workload import metric_value

    r = parse_output('{"calls": 10, "warmup": 0, "ns": 5000, "ns_per_call": 500.0, "cpu_ns_per_call": 150.0, '
                     '"slice_median_ns_per_call": 480.0, "calls_per_s": 2e6}')
    assert metric_value(r, "wall") == 500.0
    assert metric_value(r, "cpu") == 150.0
    assert r.slice_median_ns_per_call == 480.0
