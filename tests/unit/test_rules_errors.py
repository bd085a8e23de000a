"""Every malformed rule gets one clear line: FILE:LINE, the offending token, what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracer.errors import BpfauditError
from tracer.rules import RuleError, load_rules, parse_text
from tracer.rules.errors import COMMAND_LINE

CORPUS = sorted((Path(__file__).parent / "malformed_rules").glob("*.rules"))


def expected_message(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            text = line[len("# expect: "):].replace("{file}", str(path))
            return f"{path}:{text}"
    raise AssertionError(f"{path} has no '# expect:' line")


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_malformed_rule_message(path):
    with pytest.raises(RuleError) as info:
        load_rules([str(path)])
    err = info.value
    assert str(err) == expected_message(path)
    assert "\n" not in str(err)
    assert err.exit_code == 2 and isinstance(err, BpfauditError)
    assert err.where.startswith(f"{path}:")


def test_error_carries_file_line_and_token():
    with pytest.raises(RuleError) as info:
        parse_text("# c\n\n-a always,exit -F arch=b64 -S openat -F auid>=x\n", "my.rules")
    err = info.value
    assert (err.where, err.file, err.line, err.token) == ("my.rules:3", "my.rules", 3, "-F auid>=x")
    assert "not a number" in err.problem or "unknown user" in err.problem


@pytest.mark.parametrize(
    "argv, expected",
    [
        # `bpfaudit ... -F auid>=1000` unquoted: the shell redirects to a file named "=1000"
        ("-a always,exit -F arch=b64 -S execve -F auid", "quote the whole rule, e.g. '-F auid>=1000'"),
        # `-F a2&0100` unquoted: the shell puts the command in the background at '&'
        ("-a always,exit -F arch=b64 -S openat -F a2", "the shell ate the operator and value after 'a2'"),
    ],
)
def test_shell_redirect_trap_on_the_command_line(argv, expected):
    with pytest.raises(RuleError) as info:
        load_rules([], [argv])
    msg = str(info.value)
    assert msg.startswith(f"{COMMAND_LINE}: -F ")
    assert "no operator" in msg and expected in msg


def test_missing_operator_in_a_file_does_not_blame_the_shell(tmp_path):
    f = tmp_path / "r.rules"
    f.write_text("-a always,exit -F arch=b64 -S execve -F auid\n")
    with pytest.raises(RuleError) as info:
        load_rules([str(f)])
    assert "shell" not in str(info.value)
    assert str(info.value).startswith(f"{f}:1: -F auid: no operator")


def test_quoted_command_line_rule_parses():
    rs = load_rules([], ["-a always,exit -F arch=b64 -S execve -F 'auid>=1000' -k 'my key'"])
    assert rs.canonical() == ["-a always,exit -F arch=b64 -S execve -F auid>=1000 -F key=my key"]


def test_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(BpfauditError) as info:
        load_rules([str(tmp_path / "missing.rules")])
    assert str(info.value).startswith(f"{tmp_path / 'missing.rules'}: cannot read the rules file")
    assert info.value.exit_code == 2


def test_too_many_fields_for_the_kernel():
    many = " ".join(f"-F a0!={i}" for i in range(63))
    with pytest.raises(RuleError) as info:
        parse_text(f"-a always,exit -F arch=b64 -S openat {many}\n", "f")
    assert "too many fields: a rule holds at most 63" in str(info.value)
