"""`bpfaudit compare` option handling through typer's CliRunner: bad input is
one line naming the fix, exit 2, before anything is run or loaded."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tracer import cli

root = cli.app  # the real composition of command apps


runner = CliRunner()


@pytest.fixture
def rules_file(tmp_path):
    path = tmp_path / "a.rules"
    path.write_text("-a always,exit -F arch=b64 -S unlinkat -F auid>=1000 -F auid!=unset -k del\n")
    return path


@pytest.mark.parametrize("args, message", [
    (["compare", "-R", "{rules}"], "no command to compare: give it after --"),
    (["compare", "--", "true"], "no rule set: give -R RULES"),
    (["compare", "-R", "/nonexistent.rules", "--", "true"], "-R /nonexistent.rules: no such rules file"),
    (["compare", "-R", "{rules}", "--engine", "audit,dtrace", "--", "true"], "--engine audit,dtrace: use audit, bpf"),
    (["compare", "-R", "{rules}", "--runs", "0", "--", "true"], "--runs 0: give at least 1"),
    (["compare", "-R", "{rules}", "--auid", "4294967295", "--", "true"], "--auid 4294967295: give a login uid"),
    (["compare", "-R", "{rules}", "--", "no-such-command-xyz"], "no-such-command-xyz: command not found"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, rules_file):
    args = [a.replace("{rules}", str(rules_file)) for a in args]
    result = runner.invoke(root, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpfaudit: ") and message in lines[0]


def test_a_rules_file_without_syscall_rules_is_refused_before_running(tmp_path):
    config_only = tmp_path / "10-base-config.rules"
    config_only.write_text("-D\n-b 8192\n--backlog_wait_time 60000\n-f 1\n")
    result = runner.invoke(root, ["compare", "-R", str(config_only), "--", "true"])
    assert result.exit_code == 2
    assert "no syscall (-a ...,exit) rules in it: nothing to compare" in result.output


def test_a_bad_rule_is_reported_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.rules"
    bad.write_text("-a always,exit -S nosuchcall -k x\n")
    result = runner.invoke(root, ["compare", "-R", str(bad), "--", "true"])
    assert result.exit_code == 2
    assert f"{bad}:1" in result.output and "nosuchcall" in result.output
