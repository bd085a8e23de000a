"""--baseline-rev without root: a revision's tree from git, the bench's side of the build agent
(with a scripted agent), the agent's measuring loop (with a fake capture session), and the
side-by-side comparison, its issue 12 target and its table from a report dict."""

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tracer.bench import builds, cli
from tracer.bench.build_compare import builds_targets, compare_builds
from tracer.bench.builds import Build, BuildAgent, bpf_digest, build_row, extract_revision, worktree_build
from tracer.bench.probes import program_key
from tracer.bench.s2 import DEFAULT_NAME, FLOOR_NAME, TUNED_NAME
from tracer.bench.stats import ConfigResult, summarize
from tracer.bench.table import build_tables
from tracer.bench.workload import parse_output
from tracer.errors import BpfauditError

AGENT = Path(builds.__file__).with_name("agent.py")


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "repo"
    (r / "tracer").mkdir(parents=True)
    (r / "bpf").mkdir()
    (r / "tracer" / "capture.py").write_text("# old capture\n")
    (r / "bpf" / "bpfaudit.bpf.c").write_text("/* old program */\n")
    (r / "README.md").write_text("not extracted\n")
    git(r, "init", "-q")
    git(r, "-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git(r, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "old")
    return r


def test_a_revision_is_its_tracer_and_bpf_unpacked(repo, tmp_path):
    old = git(repo, "rev-parse", "HEAD")
    (repo / "bpf" / "bpfaudit.bpf.c").write_text("/* new program */\n")
    dest = tmp_path / "old"
    dest.mkdir()
    b = extract_revision(old[:7], str(dest), repo=repo)
    assert (b.label, b.commit, b.tree) == (git(repo, "rev-parse", "--short", old), old, str(dest))
    assert (dest / "bpf" / "bpfaudit.bpf.c").read_text() == "/* old program */\n"
    assert sorted(p.name for p in dest.iterdir()) == ["bpf", "tracer"]
    # which program a row compiled: the digest tells the two apart
    assert bpf_digest(str(dest)) != bpf_digest(str(repo))


def test_the_working_tree_says_whether_tracer_or_bpf_differ_from_head(repo):
    assert worktree_build(repo) == Build("worktree", str(repo), git(repo, "rev-parse", "HEAD"), False)
    (repo / "README.md").write_text("edited, but not a build input\n")
    assert worktree_build(repo).dirty is False
    (repo / "bpf" / "new.h").write_text("/* */\n")
    assert worktree_build(repo).dirty is True


def test_a_bad_revision_is_one_message_and_exit_2(repo, tmp_path):
    with pytest.raises(BpfauditError, match="--baseline-rev nope: not a commit of") as err:
        extract_revision("nope", str(tmp_path), repo=repo)
    assert err.value.exit_code == 2
    (repo / "tracer" / "__init__.py").write_text("")
    git(repo, "add", "tracer/__init__.py")
    git(repo, "rm", "-q", "tracer/capture.py")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "no capture")
    with pytest.raises(BpfauditError, match="has no tracer/capture.py or tracer/capture/__init__.py"):
        extract_revision("HEAD", str(tmp_path / "x"), repo=repo)
    # since issue 12 the capture API is the package tracer/capture/: a revision with it builds
    (repo / "tracer" / "capture").mkdir()
    (repo / "tracer" / "capture" / "__init__.py").write_text("# the package\n")
    git(repo, "add", "tracer/capture/__init__.py")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "package")
    assert Path(extract_revision("HEAD", str(tmp_path / "y"), repo=repo).tree, "tracer/capture/__init__.py").is_file()


def test_the_agent_runs_the_builds_own_tracer(tmp_path):
    """agent.py with the build's tree first on sys.path: its tracer, not this checkout's, is imported."""
    fake = tmp_path / "tree" / "tracer"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "rules.py").write_text("def parse_text(text):\n    return text\n")
    (fake / "capture.py").write_text(textwrap.dedent("""\
        class CaptureOptions:
            def __init__(self, **kw):
                self.kw = kw
        def open_capture(options):
            raise RuntimeError("no BPF in " + __file__)
    """))
    config = BuildAgent("bpfaudit @fake", Build("fake", str(fake.parent), "0" * 40), "-a always,exit -S getppid")
    with pytest.raises(BpfauditError, match=r"bpfaudit @fake: RuntimeError: no BPF in .*/tree/tracer/capture.py"):
        config.open()
    config.close()


SCRIPTED_AGENT = """\
import json, sys
tree, script = sys.argv[1], sys.argv[2]
def say(m):
    sys.stdout.write(json.dumps(m) + "\\n")
    sys.stdout.flush()
spec = json.loads(sys.stdin.readline())["open"]
if script == "dies":
    print("bcc: compile error, line 3", file=sys.stderr)
    sys.exit(1)
say({"ok": True, "programs": {"enter": 11, "exit": 12, "sched_process_exec": 13},
     "tracer": ("/elsewhere" if script == "wrong-tracer" else tree) + "/tracer/__init__.py", "spec": spec})
for line in sys.stdin:
    c = json.loads(line)
    if c["cmd"] == "on":
        say({"ok": True})
    elif c["cmd"] == "off":
        say({"ok": True, "tally": {"records": 1019, "own_records": 1000 if c["pid"] == 42 else 0},
             "losses": {"emitted": 1020, "delivered": 1019, "bpf_submit_failed": 1, "userspace_dropped": 0,
                        "queued": 0}, "consumer_cpu_s": 0.0123})
    elif c["cmd"] == "close":
        say({"ok": True})
        break
"""


@pytest.fixture
def scripted(tmp_path, monkeypatch):
    path = tmp_path / "agent.py"
    path.write_text(SCRIPTED_AGENT)

    def use(script):
        monkeypatch.setattr(builds, "agent_argv", lambda tree: [sys.executable, str(path), tree, script])
        return BuildAgent("bpfaudit @old, x", Build("old", str(tmp_path), "0" * 40), "-a always,exit -S getppid",
                          decode=True, own="ppid")
    return use


class Job:
    def run(self):
        return parse_output('{"calls": 1000, "warmup": 20, "ns": 1000000000, "ns_per_call": 1e6, "calls_per_s": 1e3}',
                            pid=42)


def test_the_bench_measures_a_build_through_its_agent(scripted):
    config = scripted("ok")
    config.open()
    try:
        assert config.program_ids() == {"enter": 11, "exit": 12, "sched_process_exec": 13}
        res, extra = config.measure(Job())
        assert res.pid == 42
        assert extra == {"records": 1019, "own_records": 1000, "emitted": 1020, "lost": 1,
                         "losses": {"emitted": 1020, "delivered": 1019, "bpf_submit_failed": 1,
                                    "userspace_dropped": 0, "queued": 0},
                         "consumer_cpu_ms": 12.3, "job_wall_ms": 1000.0}
        assert config.measure(Job())[1]["own_records"] == 1000  # the conversation stays in step
    finally:
        config.close()
    assert config.proc is None


def test_an_agent_that_dies_is_reported_with_its_stderr(scripted):
    config = scripted("dies")
    with pytest.raises(BpfauditError, match=r"did not answer .*its stderr: bcc: compile error, line 3"):
        config.open()
    config.close()


def test_an_agent_running_another_tracer_is_refused(scripted):
    config = scripted("wrong-tracer")
    with pytest.raises(BpfauditError, match="imported /elsewhere/tracer/__init__.py, not the build's"):
        config.open()
    config.close()


def load_agent_module():
    spec = importlib.util.spec_from_file_location("agent_under_test", AGENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeCapture:
    """Six records emitted while attached, one lost at submission; poll() hands out the rest in batches."""

    def __init__(self):
        self.emitted = self.delivered = self.failed = 0
        self.batches = [[7, 8], [7], [], [7, 7]]

    def attach(self):
        self.emitted, self.failed = 6, 1

    def poll(self, timeout_ms=None):
        ppids = self.batches.pop(0) if self.batches and self.emitted else []
        self.delivered += len(ppids)
        return [types.SimpleNamespace(ppid=p) for p in ppids]

    def losses(self):
        return {"emitted": self.emitted, "delivered": self.delivered, "bpf_submit_failed": self.failed,
                "userspace_dropped": 0, "queued": 0}


class FakeSwitch:
    def __init__(self, cap):
        self.cap, self.attached = cap, False

    def on(self):
        self.attached = True
        self.cap.attach()

    def off(self):
        self.attached = False


class FakeChannel:
    def __init__(self, switch, looks):
        self.switch, self.looks, self.sent = switch, looks, []

    def send(self, message):
        self.sent.append((message, self.switch.attached))

    def pending(self):
        self.looks -= 1
        return self.looks < 0

    def receive(self, timeout=None):
        return {"cmd": "off", "pid": 7}


def test_the_agent_takes_records_while_attached_then_drains_after_detaching():
    agent_module = load_agent_module()
    cap = FakeCapture()
    switch = FakeSwitch(cap)
    chan = FakeChannel(switch, looks=2)
    agent = agent_module.Agent(chan)
    agent.cap, agent.switch, agent.decode, agent.own = cap, switch, True, "ppid"
    reply = agent.measure()
    assert chan.sent == [({"ok": True}, True)]  # "on" answered once attached
    assert switch.attached is False
    assert reply["tally"] == {"records": 5, "own_records": 4}  # ppid 7: the workload's children
    assert reply["losses"]["emitted"] == 6 and reply["losses"]["bpf_submit_failed"] == 1
    assert reply["losses"]["delivered"] == 5 and reply["losses"]["queued"] == 0


def test_program_keys_by_tracepoint():
    assert [program_key(t) for t in (b"sys_enter", b"raw_syscalls:sys_exit", b"sched_process_exec")] == \
        ["enter", "exit", "sched_process_exec"]


def builds_report():
    """S2 with both builds' transport-only rows: new +600, old +450 ns; tuned kernel audit +15,000."""
    def row(name, ns, extra=None):
        return ConfigResult(name, [ns, ns + 2.0, ns - 2.0], extra=extra or {})

    rows = summarize([row("bare", 140.0), row(DEFAULT_NAME, 20140.0), row(TUNED_NAME, 15140.0),
                      row(FLOOR_NAME, 280.0), row(build_row("worktree", "transport-only consumer"), 740.0,
                                                   {"lost_total": 0, "bpf_stats": {"bpf_ns_per_workload_call": 850.0}}),
                      row(build_row("8b817fd", "transport-only consumer"), 590.0,
                          {"lost_total": 0, "bpf_stats": {"bpf_ns_per_workload_call": 500.0}})],
                     "bare", TUNED_NAME)
    return {"S2": {"title": "S2", "rows": [r.to_json() for r in rows], "notes": []}}


def test_the_builds_are_compared_against_each_other_the_floor_and_kernel_audit():
    [c] = compare_builds(builds_report(), "worktree", "8b817fd")
    assert (c["scenario"], c["new_added"], c["old_added"], c["floor_added"]) == ("S2", 600.0, 450.0, 140.0)
    assert round(c["new_over_old"], 4) == round(600 / 450, 4)
    assert round(c["new_over_floor"], 4) == round(600 / 140, 4)
    assert [(k["name"], k["added"], round(k["new_over"], 4), round(k["old_over"], 4)) for k in c["kaudit"]] == [
        (TUNED_NAME, 15000.0, 0.04, 0.03), (DEFAULT_NAME, 20000.0, 0.03, 0.0225)]
    assert c["bpf_ns_per_call"] == {"new": 850.0, "old": 500.0, "new_over_old": 1.7}
    assert compare_builds({}, "worktree", "8b817fd") == []


def test_issue_12s_target_is_new_over_old_at_most_one_and_a_half():
    [t] = builds_targets(compare_builds(builds_report(), "worktree", "8b817fd"))
    assert (t.scenario, t.limit, t.met, t.note) == ("S2", 1.5, True, "600 vs 450 ns")
    assert t.text == "bpfaudit @worktree added / @8b817fd added (issue 12), transport-only consumer"


def test_the_builds_table_is_printed_before_the_targets():
    comparison = compare_builds(builds_report(), "worktree", "8b817fd")
    report = {"scenarios": builds_report(), "builds": {"comparison": comparison},
              "targets": [t.to_json() for t in builds_targets(comparison)]}
    buf = io.StringIO()
    for table in build_tables(report)[1:]:
        Console(file=buf, width=260, color_system=None).print(table)
    text = buf.getvalue()
    assert text.index("Builds side by side: @worktree (new) and @8b817fd (old)") < text.index("Targets")
    line = next(ln for ln in text.splitlines() if ln.startswith("│ S2 "))
    assert "600" in line and "450" in line and "1.33x (BPF 1.70x)" in line and "tuned 0.04x, default 0.03x" in line


@pytest.fixture
def settings_seen(monkeypatch):
    seen = []
    report = {"machine": {"nproc": 2, "cpu_model": "x", "kernel": "6.18", "loadavg_before": 0.1,
                          "loadavg_after": 0.1}, "scenarios": {}, "targets": [], "skipped": {}, "elapsed_s": 0.0}
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    monkeypatch.setattr(cli, "run_bench", lambda settings, log: seen.append(settings) or report)
    return seen


def test_the_options_reach_the_settings(settings_seen):
    result = CliRunner().invoke(cli.app, ["--scenarios", "S1,S2,S6", "--baseline-rev", "8b817fd",
                                          "--exec-target", "/bin/true", "--exec-seconds", "2", "--exec-reps", "9"])
    assert result.exit_code == 0, result.output
    [s] = settings_seen
    assert (s.scenarios, s.baseline_rev, s.exec_target, s.exec_seconds, s.exec_reps) == \
        (["S1", "S2", "S6"], "8b817fd", "/bin/true", 2.0, 9)
    assert s.exec_workload.endswith("build/exec_loop")
    result = CliRunner().invoke(cli.app, ["--exec-seconds", "0"])
    assert result.exit_code == 2 and "--exec-seconds must be positive" in result.output
    result = CliRunner().invoke(cli.app, ["--exec-reps", "0"])
    assert result.exit_code == 2 and "--exec-reps must be at least 1" in result.output


def test_the_bpf_stats_run_gives_bpfs_time_per_workload_call(monkeypatch):
    """Before and after of each program (exit, sched_process_exec), over the workload's calls."""
    from tracer.bench import configs

    counters = iter([{"run_time_ns": 1000, "run_cnt": 10}, {"run_time_ns": 0, "run_cnt": 0},
                     {"run_time_ns": 1_001_000, "run_cnt": 1010}, {"run_time_ns": 2_000, "run_cnt": 2}])
    monkeypatch.setattr(configs.bpfstats, "run_counters", lambda prog_id: next(counters))

    monkeypatch.setattr(configs.bpfstats, "stats_enabled", contextlib.nullcontext)

    class Attached:
        def program_ids(self):
            return {"exit": 5, "sched_process_exec": 6}

        def measure(self, job):
            return Job().run(), {}

    out = configs.bpf_run_stats(Attached(), None)
    assert (out["exit_ns_per_run"], out["exit_runs"]) == (1000.0, 1000)
    assert (out["sched_process_exec_ns_per_run"], out["sched_process_exec_runs"]) == (1000.0, 2)
    assert out["workload_calls"] == 1020 and out["bpf_ns_per_workload_call"] == 1_002_000 / 1020
