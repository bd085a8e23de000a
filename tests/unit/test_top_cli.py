"""`bpfaudit top` option handling through typer's CliRunner (no root needed)."""

import json

import pytest
from top_fakes import T0, event
from typer.testing import CliRunner

from tracer import cli
from tracer.commands import top
from tracer.formats import jsonl

root = cli.app  # the real composition of command apps


runner = CliRunner()


def test_replay_prints_the_final_screen(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("".join(
        json.dumps(jsonl.to_json_dict(event(t=T0 + i * 0.5, name="unlinkat", auid=1000, serial=i))) + "\n"
        for i in range(6)))
    result = runner.invoke(root, ["top", "--replay", str(path), "--speed", "0"])
    assert result.exit_code == 0, result.output
    assert "unlinkat" in result.output and "total 6" in result.output
    assert "replay finished" in result.output


@pytest.mark.parametrize("args,needle", [
    (["--refresh", "100"], "--refresh 100 is out of range"),
    (["--duration", "-1"], "--duration must be"),
    (["-p", "0"], "not a process id"),
    (["--replay", "/nonexistent/t.jsonl"], "does not exist"),
    (["--replay", "/etc/hostname", "--demo"], "drop -R/--demo"),
    (["-R", "/nonexistent.rules"], "rule file /nonexistent.rules does not exist"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, needle):
    result = runner.invoke(root, ["top", *args])
    assert result.exit_code == 2
    assert needle in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_help_lists_the_options_and_keys():
    result = runner.invoke(root, ["top", "--help"])
    assert result.exit_code == 0
    for needle in ("--rules", "--demo", "--replay", "--refresh", "--duration", "--pid", "q quit"):
        assert needle in result.output


def test_rule_files_are_counted_as_auditctl_lists_them(tmp_path):
    path = tmp_path / "mine.rules"
    path.write_text("-a always,exit -F arch=b64 -S openat -k files\n"
                    "-w /etc/passwd -p wa -k pw\n")
    ruleset, label = top.load_ruleset([path])
    assert label == "2 rules (mine.rules)"
    assert len(ruleset.all_rules()) == 2


def test_a_bad_rule_file_is_exit_code_2(tmp_path):
    path = tmp_path / "bad.rules"
    path.write_text("-a always,exit -S no_such_syscall_name\n")
    result = runner.invoke(root, ["top", "-R", str(path)])
    assert result.exit_code == 2
    assert "bad.rules" in result.output
