"""`bpfaudit trace` bad input through typer's CliRunner: one line, exit 2, nothing attached or left behind."""

from __future__ import annotations

import os
import types

import pytest
from typer.testing import CliRunner

import tracer.capture.loader as loader
from tracer.cli import app

runner = CliRunner()


class Attached(Exception):
    pass


@pytest.fixture
def bpf_calls(monkeypatch):
    """Every bcc.BPF construction (there must be none); constructing one fails the run."""
    calls = []

    def fake_bpf(*args, **kwargs):
        calls.append((args, kwargs))
        raise Attached("bcc.BPF was constructed")

    try:
        import bcc
    except ImportError:
        bcc = None
    if bcc is not None:
        monkeypatch.setattr(bcc, "BPF", fake_bpf)
    # also where bcc is not installed: the loader then gets a module whose BPF records the call
    monkeypatch.setattr(loader, "import_bcc", lambda: types.SimpleNamespace(BPF=fake_bpf))
    return calls


def as_user(monkeypatch, uid):
    monkeypatch.setattr(os, "geteuid", lambda: uid)


def one_line_error(result, *needles):
    assert result.exit_code == 2, (result.exit_code, result.output)
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("bpfaudit: ")
    for n in needles:
        assert n in err, (n, err)
    assert "Traceback" not in result.output
    return err


def test_non_root_is_told_to_use_sudo(monkeypatch, bpf_calls):
    as_user(monkeypatch, 1000)
    result = runner.invoke(app, ["trace"])
    one_line_error(result, "sudo")
    assert bpf_calls == []


def test_non_root_leaves_no_output_file_behind(monkeypatch, bpf_calls, tmp_path):
    as_user(monkeypatch, 1000)
    out = tmp_path / "trail.log"
    result = runner.invoke(app, ["trace", "-S", "openat", "-o", str(out)])
    one_line_error(result, "sudo")
    assert not out.exists()
    assert bpf_calls == []


def test_non_root_does_not_truncate_an_existing_trail(monkeypatch, bpf_calls, tmp_path):
    as_user(monkeypatch, 1000)
    out = tmp_path / "trail.log"
    out.write_text("yesterday's records\n")
    one_line_error(runner.invoke(app, ["trace", "-o", str(out)]), "sudo")
    assert out.read_text() == "yesterday's records\n"


# As root, so that only the validation under test stands between the options and bcc.BPF.
@pytest.mark.parametrize("args,needles", [
    (["--format", "xml"], ["--format xml", "audit or json"]),
    (["-S", "nosuchcall"], ["-S nosuchcall", "unknown syscall"]),
    (["-S", "openat,nosuchcall"], ["-S nosuchcall"]),
    (["--rule", "-a always,exit -S openat -F nosuchfield=1"], ["<command line>", "nosuchfield"]),
    (["--rule", "-a sometimes,exit -S openat"], ["<command line>", "sometimes"]),
    (["-R", "/nonexistent/audit.rules"], ["/nonexistent/audit.rules"]),
    (["-p", "-1"], ["-p -1 is not a process id"]),
    (["-p", str(2**32 + 1)], ["is not a process id"]),
    (["--duration", "-1"], ["--duration must be"]),
])
def test_bad_options_fail_before_loading(monkeypatch, bpf_calls, args, needles):
    as_user(monkeypatch, 0)
    one_line_error(runner.invoke(app, ["trace", *args]), *needles)
    assert bpf_calls == []


def test_output_through_a_symlink_is_refused(monkeypatch, bpf_calls, tmp_path):
    as_user(monkeypatch, 0)
    target = tmp_path / "victim"
    target.write_text("keep\n")
    link = tmp_path / "trail.log"
    link.symlink_to(target)
    one_line_error(runner.invoke(app, ["trace", "-S", "openat", "-o", str(link)]), "symlink", str(link))
    assert target.read_text() == "keep\n"
    assert bpf_calls == []


def test_help_shows_the_examples():
    result = runner.invoke(app, ["trace", "--help"])
    assert result.exit_code == 0
    for needle in ("--format", "--output", "--syscall", "ausearch -if"):
        assert needle in result.output
