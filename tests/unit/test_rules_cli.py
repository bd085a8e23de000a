"""`bpfaudit rules list|lint` through typer's CliRunner (no root needed)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from tracer.commands import rules
from tracer.rules import default_rules

# The root app composes command apps as tracer/cli.py does.
root = typer.Typer()
root.add_typer(rules.app, name="rules")
runner = CliRunner()


def write(tmp_path, text, name="r.rules"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_list_without_rules_prints_the_default():
    res = runner.invoke(root, ["rules", "list"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == default_rules().canonical()
    assert res.stdout.startswith("-a always,exit -F arch=b64 -S execve,execveat -F auid>=1000 -F auid!=-1 -F key=exec\n")


def test_list_files_in_order(tmp_path):
    a = write(tmp_path, "-D\n-w /etc/shadow -p wa -k shadow\n", "a.rules")
    b = write(tmp_path, "-a exit,always -F arch=b64 -S openat -F auid>=1000 -F auid!=unset -k open\n", "b.rules")
    res = runner.invoke(root, ["rules", "list", "-R", a, "-R", b])
    assert res.exit_code == 0, res.output
    assert res.stdout == (
        "-w /etc/shadow -p wa -k shadow\n"
        "-a always,exit -F arch=b64 -S openat -F auid>=1000 -F auid!=-1 -F key=open\n"
    )


def test_list_command_line_rules_and_warnings_on_stderr():
    res = runner.invoke(root, ["rules", "list", "--rule", "-a always,exit -S openat", "--",
                               "-a", "never,exit", "-F", "arch=b64", "-S", "unlink"])
    assert res.exit_code == 0, res.output
    assert res.stdout == "-a always,exit -S openat\n-a never,exit -F arch=b64 -S unlink\n"
    assert res.stderr.startswith("warning: <command line>: -S without -F arch")


def test_bad_rule_is_one_line_and_exit_2(tmp_path):
    p = write(tmp_path, "# x\n-a always,exit -F arch=b64 -S opne\n")
    for cmd in ("list", "lint"):
        res = runner.invoke(root, ["rules", cmd, "-R", p])
        assert res.exit_code == 2
        assert res.stdout == ""
        assert res.stderr.strip().splitlines() == [
            f"bpfaudit: {p}:2: -S opne: unknown syscall 'opne' for arch x86_64 (libaudit's table, "
            "as auditctl resolves names); did you mean open?"
        ]


def test_shell_redirect_trap():
    # what `bpfaudit rules list -a always,exit -S execve -F auid>=1000` leaves after the shell
    res = runner.invoke(root, ["rules", "list", "--", "-a", "always,exit", "-S", "execve", "-F", "auid"])
    assert res.exit_code == 2
    assert "<command line>: -F auid: no operator" in res.stderr
    assert "quote the whole rule" in res.stderr


def test_missing_file_exit_2(tmp_path):
    res = runner.invoke(root, ["rules", "list", "-R", str(tmp_path / "none.rules")])
    assert res.exit_code == 2
    assert "cannot read the rules file" in res.stderr


def test_lint_statuses(tmp_path):
    p = write(tmp_path, "-b 8192\n-a always,exit -F arch=b64 -S openat -F auid>=1000\n"
                        "-a always,exit -F arch=b64 -S execve -F exe=/bin/sh\n-w /etc/shadow -p wa\n"
                        "-a never,exit -F arch=b64 -S openat -F subj_type=x_t\n")
    res = runner.invoke(root, ["rules", "lint", "-R", p])
    assert res.exit_code == 0, res.output
    statuses = [line[len(p) + 1:].split(":", 2)[1].strip().split(" ")[0] for line in res.stdout.splitlines()]
    assert statuses == ["not", "in-kernel", "user-space", "approximate", "unsupported"]


def test_lint_exit_2_beyond_bpf_limits(tmp_path):
    many = " ".join(f"-F a0!={i}" for i in range(17))
    p = write(tmp_path, f"-a always,exit -F arch=b64 -S openat {many}\n")
    res = runner.invoke(root, ["rules", "lint", "-R", p])
    assert res.exit_code == 2
    assert f"{p}:1: error (18 fields for BPF to compare" in res.stdout
    assert "cannot be loaded" in res.stderr
