"""S7, the openat scenario, without root: its workload (built and run on a temporary file), the
scenario run over fake configurations (no kernel audit, no BPF), its targets, table and
--baseline-rev comparison, and its options."""

import contextlib
import io
import shutil
import subprocess
import types
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tracer.bench import cli, kstate, recorded
from tracer.bench.build_compare import compare_builds
from tracer.bench.builds import Build, build_row
from tracer.bench.recorded import OURS
from tracer.bench.s2 import DEFAULT_NAME, FLOOR_NAME, TUNED_NAME
from tracer.bench.s6 import run_s6
from tracer.bench.s7 import BUILD_ROWS, run_s7, s7_targets
from tracer.bench.suite import Settings, parse_scenarios
from tracer.bench.table import build_tables
from tracer.bench.workload import OpenJob, WorkloadResult
from tracer.errors import BpfauditError

OPEN_LOOP_C = str(Path(recorded.__file__).resolve().parents[2] / "scripts" / "workloads" / "open_loop.c")
KAUDITS = (DEFAULT_NAME, TUNED_NAME)
# wall ns per openat of each row (CPU: 100 ns less): bpfaudit adds 400, tuned 15,000, default 20,000
WALL = {"bare": 2_500.0, DEFAULT_NAME: 22_500.0, TUNED_NAME: 17_500.0, FLOOR_NAME: 2_650.0, OURS: 2_900.0,
        build_row("worktree", BUILD_ROWS): 2_900.0, build_row("8b817fd", BUILD_ROWS): 2_820.0}


class FakeConfig:
    """Stands in for every configuration run_recorded makes: keeps how it was made and the jobs
    it was given, measures nothing, and has programs where the real one has."""

    def __init__(self, made, lost, name="bare", *args, raw=None, **options):
        self.name = FLOOR_NAME if raw else name
        self.options, self.jobs, self.lost = options, [], iter(lost)
        made[self.name] = self

    def open(self):
        pass

    def close(self):
        pass

    def measure(self, job):
        self.jobs.append(job)
        wall = WALL[self.name]
        res = WorkloadResult(400_000, 1_000_000_000, wall, 1e9 / wall, wall - 100, wall, 1000, 42)
        if self.name in (*KAUDITS, "bare", FLOOR_NAME):
            return res, {}
        lost = next(self.lost, 0)
        return res, {"records": 401_000 - lost, "own_records": 401_000 - lost, "lost": lost}

    def program_ids(self):
        return {} if self.name in (*KAUDITS, "bare") else {"exit": 7}


@pytest.fixture
def fake_bench(monkeypatch):
    """run_recorded over FakeConfigs, kernel audit left alone: "run" runs a scenario (`lost`:
    bpfaudit's lost records per round); "made" and "rules" are what it made and loaded."""
    seen = {"made": {}, "rules": []}

    def session(rule):
        seen["rules"].append(rule)
        return contextlib.nullcontext(types.SimpleNamespace(backlog_limit=64))

    def run(scenario=run_s7, lost=(0, 0, 0), builds=(), binary="/b/open_loop", target="/etc/hostname"):
        def make(*args, **options):
            return FakeConfig(seen["made"], lost, *args, **options)

        for name in ("Bare", "KernelAudit", "EmptyProbes", "Bpfaudit"):
            monkeypatch.setattr(recorded, name, make)
        monkeypatch.setattr(recorded, "build_configs", lambda builds, what, rule, **options: [
            make(build_row(b.label, what), **options) for b in builds])
        return scenario(binary, target, len(lost), 0.5, lambda msg: None,
                        builds=[Build(label, "/t", "c" * 40, False) for label in builds])

    monkeypatch.setattr(kstate, "one_rule_session", session)
    monkeypatch.setattr(recorded, "bpf_run_stats", lambda config, job: {"exit_ns_per_run": 99.0})
    seen["run"] = run
    return seen


def test_s7_runs_every_configuration_on_the_open_loop_and_counts_records_by_pid(fake_bench):
    out = fake_bench["run"]()["S7"]
    made = fake_bench["made"]
    assert fake_bench["rules"] == [kstate.OPEN_RULE]
    assert [r["name"] for r in out["rows"]] == ["bare", DEFAULT_NAME, TUNED_NAME, FLOOR_NAME, OURS]
    assert made[TUNED_NAME].options["count_field"] == made[DEFAULT_NAME].options["count_field"] == "pid"
    assert made[OURS].options["own"] == "pid"
    # the three rounds (the bpf_stats run is faked: it measures nothing)
    assert made[OURS].jobs == [OpenJob("/b/open_loop", 0.5, "/etc/hostname", auid=1000)] * 3
    ours = out["rows"][-1]
    assert (ours["added_ns"], ours["lost_total"], ours["records_total"]) == (400.0, 0, 1_203_000)
    assert ours["bpf_stats"] == {"exit_ns_per_run": 99.0} and "bpf_stats" not in out["rows"][0]
    assert (ours["cpu"]["added_ns"], ours["cpu"]["added_vs_kaudit"]) == (400.0, 400 / 15_000)
    assert out["title"] == ("S7 cost per recorded openat, openat+close of /etc/hostname (wall ns per openat; "
                            "x kaudit = tuned)")
    assert out["notes"][0].startswith(f"rule: `{kstate.OPEN_RULE}`; workload `open_loop SECONDS /etc/hostname`")
    assert out["notes"][1].startswith("default: Debian auditd.conf, backlog_limit as found (64)")
    assert out["notes"][3].startswith(f"{FLOOR_NAME}: the empty pair on raw_syscalls only")


def test_s6_runs_the_same_way_on_the_exec_loop_and_counts_records_by_ppid(fake_bench):
    out = fake_bench["run"](run_s6, binary="/b/exec_loop", target="/b/exec_true")["S6"]
    made = fake_bench["made"]
    assert fake_bench["rules"] == [kstate.EXEC_RULE]
    assert made[TUNED_NAME].options["count_field"] == made[OURS].options["own"] == "ppid"
    assert out["title"] == ("S6 cost per recorded exec, fork+exec+wait of a static `return 0` (wall ns per exec; "
                            "x kaudit = tuned)")
    assert out["notes"][2].startswith("bpfaudit: capture session as `bpfaudit trace --transport ringbuf` opens it")
    assert out["notes"][3] == f"{FLOOR_NAME}: the empty pair on raw_syscalls only (no program on sched_process_exec)"


def test_the_openat_target_is_a_25th_of_tuned_kernel_audit_and_default_is_reported_beside_it(fake_bench):
    targets = s7_targets(fake_bench["run"]())
    assert [(t.scenario, t.text, t.value, t.limit, t.met) for t in targets] == [
        ("S7", "bpfaudit added / tuned kernel audit added, per openat", 400 / 15_000, 1 / 25, True),
        ("S7", "bpfaudit added / default kernel audit added, per openat (reported; the target is tuned's)",
         400 / 20_000, 1 / 25, True),
        ("S7", "bpfaudit records lost", 0, 0, True),
        ("S7", "CPU per openat of the loop: bpfaudit added / tuned kernel audit added (reported, not judged)",
         400 / 15_000, 1 / 25, True),
    ]
    assert targets[0].note == "0 lost of 1,203,000 emitted; the empty raw-tracepoint pair alone: 0.0100"
    assert targets[1].note.endswith("the empty raw-tracepoint pair alone: 0.0075")
    assert targets[3].note == "default: 0.020"


def test_a_missed_openat_target_and_lost_records_are_marked(fake_bench, monkeypatch):
    monkeypatch.setitem(WALL, OURS, 3_200.0)  # 700 of 15,000: over 1/25
    met = {t.text: t.met for t in s7_targets(fake_bench["run"](lost=(0, 7, 0)))}
    assert met["bpfaudit added / tuned kernel audit added, per openat"] is False
    assert met["bpfaudit records lost"] is False
    assert s7_targets({}) == []


def test_the_table_shows_the_workloads_openats_recorded(fake_bench):
    buf = io.StringIO()
    Console(file=buf, width=260, color_system=None).print(build_tables({"scenarios": fake_bench["run"]()})[0])
    row = next(ln for ln in buf.getvalue().splitlines() if ln.startswith(f"│ {OURS} "))
    assert "400" in row and "workload's records 1,203,000 of 1,203,000 calls" in row


def test_baseline_rev_rows_of_s7_are_compared_as_s6s(fake_bench):
    scenarios = fake_bench["run"](builds=("worktree", "8b817fd"))
    assert fake_bench["made"][build_row("8b817fd", BUILD_ROWS)].options == {"decode": True, "own": "pid",
                                                                           "transport": "ringbuf"}
    [c] = compare_builds(scenarios, "worktree", "8b817fd")
    assert (c["scenario"], c["unit"], c["new_added"], c["old_added"], c["new_over_old"]) == \
        ("S7", "wall ns per recorded openat", 400.0, 320.0, 1.25)
    assert [(k["name"], k["new_over"]) for k in c["kaudit"]] == [(TUNED_NAME, 400 / 15_000),
                                                                  (DEFAULT_NAME, 400 / 20_000)]
    assert c["cpu"]["new_over_old"] == 1.25


def test_a_missing_open_target_is_named(tmp_path):
    with pytest.raises(BpfauditError, match="open target .*/nothing is missing or not a file") as err:
        OpenJob("/bin/true", 0.1, str(tmp_path / "nothing")).start()
    assert err.value.exit_code == 2
    with pytest.raises(BpfauditError, match="is missing or not a file"):
        OpenJob("/bin/true", 0.1, str(tmp_path)).start()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_open_loop_opens_the_file_for_the_seconds_and_prints_its_line(tmp_path):
    binary, target = tmp_path / "open_loop", tmp_path / "small"
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary), OPEN_LOOP_C], check=True)
    target.write_text("x\n")
    r = OpenJob(str(binary), 0.05, str(target)).run()
    assert r.warmup == 1000 and r.calls > 0 and r.calls % 16 == 0
    assert r.ns >= 50_000_000 and r.ns_per_call == pytest.approx(r.ns / r.calls, rel=1e-3)
    assert 0 < r.cpu_ns_per_call and r.calls_per_s == pytest.approx(r.calls * 1e9 / r.ns, rel=1e-3)
    target.unlink()  # an open that fails ends the run: every counted call is an openat that succeeded
    failed = subprocess.run([str(binary), "0.05", str(target)], capture_output=True, text=True)
    assert (failed.returncode, failed.stdout) == (1, "") and "open_loop: openat: No such file" in failed.stderr
    usage = subprocess.run([str(binary)], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_s7_is_a_scenario_with_its_options(monkeypatch):
    assert parse_scenarios("s1,S7") == ["S1", "S7"]
    quick = Settings.quick("/b/getppid_loop", ["S7"])
    assert (quick.open_seconds, quick.open_reps) == (0.5, 5)
    s = Settings("/b/getppid_loop", ["S7"])
    assert (s.open_seconds, s.open_reps, s.open_target) == (1.0, 15, "/etc/hostname")
    assert s.open_workload.endswith("build/open_loop")
    seen = []
    report = {"machine": {"nproc": 2, "cpu_model": "x", "kernel": "6.18", "loadavg_before": 0.1,
                          "loadavg_after": 0.1}, "scenarios": {}, "targets": [], "skipped": {}, "elapsed_s": 0.0}
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    monkeypatch.setattr(cli, "run_bench", lambda settings, log: seen.append(settings) or report)
    result = CliRunner().invoke(cli.app, ["--scenarios", "S1,S7", "--open-target", "/tmp/f", "--open-seconds", "2",
                                          "--open-reps", "9", "--open-workload", "/b/open_loop"])
    assert result.exit_code == 0, result.output
    [got] = seen
    assert (got.scenarios, got.open_target, got.open_seconds, got.open_reps, got.open_workload) == \
        (["S1", "S7"], "/tmp/f", 2.0, 9, "/b/open_loop")
    result = CliRunner().invoke(cli.app, ["--open-seconds", "0"])
    assert result.exit_code == 2 and "--open-seconds must be positive" in result.output
    result = CliRunner().invoke(cli.app, ["--open-reps", "0"])
    assert result.exit_code == 2 and "--open-reps must be at least 1" in result.output
