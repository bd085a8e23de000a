"""`--transport` on `bpfaudit trace` and `bpfaudit top`: the choice reaches CaptureOptions,
ringbuf is the default (as the bench chose), and a bad value is one line with exit code 2 before anything loads."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

import tracer.capture.session as capture
import tracer.commands.trace as trace_cmd
from tracer.capture.session import DEFAULT_TRANSPORT
from tracer.capture.session import TRANSPORTS
from tracer.cli import app
from tracer.commands import top as top_cmd
from tracer.top.sources import LiveSource

runner = CliRunner()


@pytest.fixture
def traced(monkeypatch):
    """The CaptureOptions `trace` would capture with (run_trace replaced: nothing loads)."""
    seen = []

    def fake_run_trace(options, out, fmt="audit", duration=None, notes=None, ledger=None):
        seen.append(options)
        return {}

    monkeypatch.setattr(trace_cmd, "run_trace", fake_run_trace)
    monkeypatch.setattr(trace_cmd, "read_kernel_audit", lambda: None)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return seen


@pytest.mark.parametrize("args, expected", [([], DEFAULT_TRANSPORT), (["--transport", "ringbuf"], "ringbuf"),
                                            (["--transport", "bcc"], "bcc"),
                                            (["--transport", "perf-ring"], "perf-ring")])
def test_trace_passes_the_transport_into_the_capture_options(traced, args, expected):
    result = runner.invoke(app, ["trace", "-S", "openat", *args])
    assert result.exit_code == 0, result.output
    assert [o.transport for o in traced] == [expected]
    assert traced[0].syscalls == {"openat"}  # the other options still arrive beside it


def test_trace_refuses_an_unknown_transport_in_one_line_before_loading(traced):
    result = runner.invoke(app, ["trace", "--transport", "pigeon"])
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert err == "bpfaudit: --transport pigeon: use perf-ring, ringbuf or bcc", err
    assert traced == []


@pytest.mark.parametrize("command", ["trace", "top"])
def test_help_names_every_transport(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "--transport" in result.output
    flat = " ".join(result.output.split())
    for name in TRANSPORTS:
        assert name in flat, name


def test_top_builds_a_live_source_with_the_transport(monkeypatch):
    monkeypatch.setattr(top_cmd.os, "geteuid", lambda: 0)
    for transport in TRANSPORTS:
        src = top_cmd.make_source([], False, None, 1.0, 4.0, None, None, transport)
        assert isinstance(src, LiveSource) and src.capture_transport == transport
    assert top_cmd.make_source([], False, None, 1.0, 4.0, None, None).capture_transport == DEFAULT_TRANSPORT == "ringbuf"


def test_the_live_source_opens_its_capture_with_the_transport(monkeypatch):
    opened = []

    class FakeCapture:
        transport = "ringbuf transport, BPF ring buffer (...)"

        def losses(self):
            return {"emitted": 5, "delivered": 5, "bpf_submit_failed": 0, "perf_lost": 0}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    def fake_open(options):
        opened.append(options)
        return FakeCapture()

    monkeypatch.setattr(capture, "open_capture", fake_open)
    with LiveSource(None, "rules", pid=42, transport="ringbuf") as src:
        assert src.transport == FakeCapture.transport
        # no LOST records in a ring buffer: the dashboard's "ring buffer lost" is n/a, not 0
        assert src.losses() == {"emitted": 5, "delivered": 5, "bpf_submit_failed": 0}
    with LiveSource(None, "rules", transport="perf-ring") as src:
        assert src.losses()["perf_lost"] == 0
    assert [(o.transport, o.pid) for o in opened] == [("ringbuf", 42), ("perf-ring", 0)]


@pytest.mark.parametrize("args, needle", [
    (["--transport", "pigeon"], "--transport pigeon: use perf-ring, ringbuf or bcc"),
    (["--replay", "/etc/hostname", "--transport", "perf-ring"], "drop -R/--demo/--transport"),
])
def test_top_refuses_a_bad_transport_in_one_line(args, needle):
    result = runner.invoke(app, ["top", *args])
    assert result.exit_code == 2
    assert needle in result.output and len(result.output.strip().splitlines()) == 1
