"""The dashboard loop over scripted sources: feeding, pid filter, final
output, the full-screen path, and the key reader on a pseudo-terminal."""

import io
import os
import pty
import termios
import time

from rich.console import Console
from top_fakes import ScriptedSource, event, losses

from tracer.top.keys import KeyReader
from tracer.top.live import run_top


def plain_console(width=100, height=30):
    return Console(width=width, height=height, file=io.StringIO(), force_terminal=False)


def test_batch_mode_runs_to_the_end_and_prints_one_screen():
    script = [([event(name="openat", pid=1)] * 5 + [event(name="execve", pid=2)] * 2,
               losses(emitted=7, delivered=7))] * 3
    src = ScriptedSource(script)
    console = plain_console()
    snap = run_top(src, console=console, refresh_hz=30)
    assert src.entered and src.exited
    assert snap.events == 21 and snap.finished == "script done"
    assert snap.emitted == 7 + 0 and snap.delivered == 7
    out = console.file.getvalue()
    assert "openat" in out and "execve" in out and "total 21" in out
    assert "n/a (not live)" in out  # a non-live source does not show kernel counters


def test_pid_filter_keeps_only_that_process():
    script = [([event(pid=1), event(pid=2), event(pid=2)], None)]
    snap = run_top(ScriptedSource(script), console=plain_console(), pid=2)
    assert snap.events == 2
    assert [r.cells[0] for r in snap.processes.rows] == ["2"]


def test_kernel_audit_status_is_polled_for_live_sources():
    class Status:
        lost, backlog, backlog_limit, enabled = 3, 1, 64, 1

    snap = run_top(ScriptedSource([([event()], None)], kernel_audit=True),
                   console=plain_console(), kaudit=lambda: (Status, ""))
    assert snap.kaudit.available and snap.kaudit.lost == 3 and snap.kaudit.backlog_limit == 64
    snap = run_top(ScriptedSource([([event()], None)], kernel_audit=True),
                   console=plain_console(), kaudit=lambda: (None, "n/a (PermissionError)"))
    assert not snap.kaudit.available and snap.kaudit.reason == "n/a (PermissionError)"


class EndlessSource(ScriptedSource):
    """Never finishes: only duration (or a key) ends the loop."""

    def poll(self, timeout_ms):
        time.sleep(timeout_ms / 1000)
        self.step += 1
        return [event(name="openat")]


def test_full_screen_mode_draws_and_stops_at_duration():
    out = io.StringIO()
    console = Console(width=80, height=24, file=out, force_terminal=True, color_system="truecolor")
    src = EndlessSource([])
    start = time.monotonic()
    snap = run_top(src, console=console, refresh_hz=10, duration=0.6, keys=False)
    assert 0.5 <= time.monotonic() - start < 3
    assert src.exited and snap.events > 0
    screen = out.getvalue()
    assert "\x1b[?1049h" in screen and "\x1b[?1049l" in screen  # alternate screen in and out
    assert "openat" in screen and "latest records" in screen


def test_key_reader_reads_keys_in_cbreak_mode_and_restores_the_terminal():
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        with KeyReader(fd=slave) as keys:
            mode = termios.tcgetattr(slave)
            assert not mode[3] & termios.ICANON  # cbreak: keys arrive without Enter
            assert mode[3] & termios.ISIG  # Ctrl-C still raises SIGINT
            os.write(master, b"sp")
            got = []
            deadline = time.monotonic() + 2
            while len(got) < 2 and time.monotonic() < deadline:
                got += keys.pending()
                time.sleep(0.02)
            assert got == ["s", "p"]
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_key_reader_is_inert_without_a_terminal(tmp_path):
    with open(tmp_path / "f", "w+") as f, KeyReader(fd=f.fileno()) as keys:
        assert keys.pending() == []
