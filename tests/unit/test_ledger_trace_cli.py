"""`bpfaudit trace --max-loss/--stats-json` read the loss ledger: exit 1 over the
ratio or when it does not reconcile, the ledger written as JSON either way.
run_trace is replaced by a script that leaves a chosen final reading in the ledger."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

import tracer.commands.trace as trace_cmd
from tracer.cli import app
from tracer.capture.ledger import CaptureCounters

runner = CliRunner()


def scripted(monkeypatch, emitted, failed, delivered):
    def fake_run_trace(options, out, fmt="audit", duration=None, notes=None, ledger=None):
        reading = CaptureCounters.from_losses(
            dict(emitted=emitted, delivered=delivered, bpf_submit_failed=failed, perf_lost=failed,
                 userspace_dropped=0, queued=0, seq_gaps=failed))
        ledger.update(reading)
        return {}

    monkeypatch.setattr(trace_cmd, "run_trace", fake_run_trace)
    monkeypatch.setattr(trace_cmd, "read_kernel_audit", lambda: None)
    monkeypatch.setattr(os, "geteuid", lambda: 0)


@pytest.mark.parametrize("failed, max_loss, code", [(0, "0", 0), (10, "0.1", 0), (11, "0.1", 1), (1, "0", 1)])
def test_max_loss_gate(monkeypatch, tmp_path, failed, max_loss, code):
    scripted(monkeypatch, emitted=100, failed=failed, delivered=100 - failed)
    stats = tmp_path / "ledger.json"
    result = runner.invoke(app, ["trace", "--max-loss", max_loss, "--stats-json", str(stats)])
    assert result.exit_code == code, result.output
    ledger = json.loads(stats.read_text())  # written before the gate decides
    assert ledger["emitted"] == 100 and ledger["lost"] == failed and ledger["reconciled"]
    assert f"{100 - failed} delivered, {failed} lost" in result.stderr
    if code:
        assert f"lost {failed} of 100 records" in result.stderr and f"more than --max-loss {max_loss}" in result.stderr


def test_an_unreconciled_ledger_fails_the_gate(monkeypatch):
    scripted(monkeypatch, emitted=100, failed=0, delivered=90)  # 10 records nowhere
    result = runner.invoke(app, ["trace", "--max-loss", "0.5"])
    assert result.exit_code == 1
    assert "NOT reconciled" in result.stderr and "does not reconcile" in result.stderr


def test_without_max_loss_losses_do_not_change_the_exit_code(monkeypatch):
    scripted(monkeypatch, emitted=100, failed=50, delivered=50)
    assert runner.invoke(app, ["trace"]).exit_code == 0


@pytest.mark.parametrize("bad", ["-0.1", "1.5"])
def test_max_loss_outside_0_1_is_bad_input(monkeypatch, bad):
    scripted(monkeypatch, emitted=0, failed=0, delivered=0)
    result = runner.invoke(app, ["trace", "--max-loss", bad])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"bpfaudit: --max-loss {float(bad)}: give a ratio between 0 and 1, e.g. 0.01"
