"""State diffing, safe rule filtering and the session's restore-on-every-exit logic, without root."""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import subprocess
import time

import pytest

from tracer.errors import BpfauditError
from tracer.kaudit import lock, state

BASE = state.AuditState(rules=("-a always,exit -F arch=b64 -S getppid -F key=t",), enabled=0, failure=1,
                        backlog_limit=64, backlog_wait_time=15000, rate_limit=0, pid=0, auditd_pid=None)


def test_diff_identical_is_empty():
    assert state.diff_states(BASE, dataclasses.replace(BASE, auditd_pid=5)) == []


def test_diff_names_each_field_and_rule():
    after = dataclasses.replace(BASE, enabled=1, backlog_limit=8192, pid=77,
                                rules=("-w /etc/shadow -p wa",))
    diffs = state.diff_states(BASE, after)
    assert "enabled 0 -> 1" in diffs and "backlog_limit 64 -> 8192" in diffs and "pid 0 -> 77" in diffs
    assert diffs[-1] == "rules: --a always,exit -F arch=b64 -S getppid -F key=t; +-w /etc/shadow -p wa"


def test_diff_rule_order_matters():
    two = dataclasses.replace(BASE, rules=("-w /a -p r", "-w /b -p r"))
    swapped = dataclasses.replace(BASE, rules=("-w /b -p r", "-w /a -p r"))
    assert state.diff_states(two, swapped) == ["rules: same rules, different order"]


@pytest.fixture
def fake_auditctl(monkeypatch):
    calls = []

    def run(*args, check=True):
        calls.append(args)
        bad = "bogus" in args
        return subprocess.CompletedProcess(args, 255 if bad else 0, "",
                                           "Append rule - bad keyword bogus\nThere was an error in line 1"
                                           if bad else "")
    monkeypatch.setattr(state, "auditctl", run)
    return calls


def test_load_rules_filters_locking_lines(fake_auditctl):
    lines = ["# comment", "", "-D", "-e 2", "-e2", "--loginuid-immutable",
             "-a always,exit -F arch=b64 -S open -k 'my key'", "-w /etc/passwd -p wa"]
    result = state.load_rules(lines)
    assert [s.lineno for s in result.skipped] == [4, 5, 6]
    assert all("until reboot" in s.message for s in result.skipped)
    assert fake_auditctl == [("-D",), ("-a", "always,exit", "-F", "arch=b64", "-S", "open", "-k", "my key"),
                             ("-w", "/etc/passwd", "-p", "wa")]
    assert result.loaded == ["-D", lines[6], lines[7]]


def test_load_rules_only_rules_skips_config_lines(fake_auditctl):
    result = state.load_rules(["-D", "-b 8192", "-e 1", "-w /etc/passwd -p wa"], only_rules=True)
    assert fake_auditctl == [("-w", "/etc/passwd", "-p", "wa")]
    assert [s.line for s in result.skipped] == ["-D", "-b 8192", "-e 1"]


def test_load_rules_reports_each_failing_line(fake_auditctl):
    result = state.load_rules(["-w /ok -p r", "-a bogus", "-a 'unclosed"], strict=False)
    assert [(e.lineno, e.message) for e in result.errors] == [
        (2, "Append rule - bad keyword bogus"), (3, "cannot split: No closing quotation")]
    with pytest.raises(BpfauditError, match="2 audit rule line.*line 2 `-a bogus`"):
        state.load_rules(["-w /ok -p r", "-a bogus", "-a 'unclosed"])


@pytest.fixture
def session(monkeypatch, tmp_path):
    """kernel_audit_session with snapshot/restore recorded and a private lock file."""
    restored = []
    current = {"state": BASE}
    monkeypatch.setattr(state, "snapshot", lambda: current["state"])
    monkeypatch.setattr(state, "restore", restored.append)
    monkeypatch.setattr(state, "audit_lock", functools.partial(lock.audit_lock, path=str(tmp_path / "l")))
    return restored, current


def test_session_restores_on_normal_exit(session):
    restored, _ = session
    with state.kernel_audit_session() as before:
        assert before is BASE and restored == []
    assert restored == [BASE]


def test_session_restores_on_exception(session):
    restored, _ = session
    with pytest.raises(RuntimeError), state.kernel_audit_session():
        raise RuntimeError("boom")
    assert restored == [BASE]


def test_session_restores_on_keyboard_interrupt(session):
    restored, _ = session
    with pytest.raises(KeyboardInterrupt), state.kernel_audit_session():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler's exception interrupts this
        raise AssertionError("SIGINT did not interrupt the block")
    assert restored == [BASE]


def test_session_turns_sigterm_into_terminated_and_puts_handler_back(session):
    restored, _ = session
    marker = lambda signum, frame: None  # noqa: E731
    previous = signal.signal(signal.SIGTERM, marker)
    try:
        with pytest.raises(state.Terminated), state.kernel_audit_session():
            assert signal.getsignal(signal.SIGTERM) is not marker
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            raise AssertionError("SIGTERM did not interrupt the block")
        assert restored == [BASE]
        assert signal.getsignal(signal.SIGTERM) is marker
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_session_refuses_locked_audit(session):
    restored, current = session
    current["state"] = dataclasses.replace(BASE, enabled=2)
    with pytest.raises(BpfauditError, match="locked"), state.kernel_audit_session():
        raise AssertionError("entered a locked session")
    assert restored == []


def test_second_interrupt_during_restore_waits_for_it(monkeypatch, tmp_path):
    done = []

    def slow_restore(saved):
        os.kill(os.getpid(), signal.SIGINT)  # a second ^C while restoring
        time.sleep(0.1)
        done.append(saved)

    monkeypatch.setattr(state, "snapshot", lambda: BASE)
    monkeypatch.setattr(state, "restore", slow_restore)
    monkeypatch.setattr(state, "audit_lock", functools.partial(lock.audit_lock, path=str(tmp_path / "l")))
    with pytest.raises(KeyboardInterrupt):
        with state.kernel_audit_session():
            pass
    assert done == [BASE]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == set()


class FakeRuleConn:
    def __init__(self, loaded):
        self.loaded = list(loaded)
        self.calls = []

    def list_rules(self):
        return list(self.loaded)

    def delete_rule(self, rule):
        self.calls.append(("del", rule))
        self.loaded.remove(rule)

    def add_rule(self, rule):
        self.calls.append(("add", rule))
        self.loaded.append(rule)


def test_restore_rules_binary_form_in_order():
    saved = dataclasses.replace(BASE, rule_data=(b"r1", b"r2", b"r3"))
    conn = FakeRuleConn([b"r2", b"x"])
    state._restore_rules(conn, saved)
    assert conn.loaded == [b"r1", b"r2", b"r3"]
    assert conn.calls[:2] == [("del", b"r2"), ("del", b"x")]


def test_restore_rules_untouched_when_equal():
    saved = dataclasses.replace(BASE, rule_data=(b"r1",))
    conn = FakeRuleConn([b"r1"])
    state._restore_rules(conn, saved)
    assert conn.calls == []


def test_restore_rules_to_empty_deletes_all():
    conn = FakeRuleConn([b"a", b"b"])
    state._restore_rules(conn, dataclasses.replace(BASE, rules=()))
    assert conn.loaded == [] and len(conn.calls) == 2


def test_restore_rules_text_only_state_goes_through_auditctl(monkeypatch, fake_auditctl):
    monkeypatch.setattr(state, "list_rules", lambda: ())
    state._restore_rules(FakeRuleConn([]), BASE)
    assert fake_auditctl == [("-D",), ("-a", "always,exit", "-F", "arch=b64", "-S", "getppid", "-F", "key=t")]
