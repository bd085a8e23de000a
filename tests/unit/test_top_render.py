"""Rendering snapshots built from scripted records: content, order, fit, colours."""

import pytest
from top_fakes import T0, event, losses, styles_of, text_of

from tracer.top.aggregate import Aggregator
from tracer.top.render import render, sparkline


def build(script_losses=None, seconds=3):
    """A snapshot of a small scripted run: 3 s of a mix, loss samples per second."""
    a = Aggregator(rules="4 rules (built-in default)", transport="perf buffer (test)", start=T0,
                   user_name=lambda u: {1000: "alice"}.get(u, "unset" if u == 4294967295 else str(u)))
    for sec in range(seconds):
        evs = (
            [event(t=T0 + sec, name="openat", pid=4242, comm="demo-proc", auid=1000,
                   key="demo-files", path="/etc/hostname")] * 30
            + [event(t=T0 + sec, name="connect", pid=4242, comm="demo-proc", ok=False, exit=-111,
                     auid=1000, key="demo-net", path=None)] * 12
            + [event(t=T0 + sec, name="execve", pid=5000 + sec, comm="true", exe="/bin/true",
                     auid=4294967295, key=None, path="/bin/true")] * 4
        )
        a.feed(evs, T0 + sec + 0.5)
        if script_losses:
            a.observe_losses(script_losses[sec], T0 + sec + 0.5)
    a.tick(T0 + seconds + 0.1)
    return a.snapshot()


@pytest.mark.parametrize("width,height", [(80, 24), (120, 40), (200, 50)])
def test_everything_is_on_screen_and_fits(width, height):
    snap = build([losses(emitted=46 * (s + 1), delivered=46 * (s + 1)) for s in range(3)])
    text = text_of(render(snap, width, height), width, height)
    lines = text.rstrip("\n").split("\n")
    assert len(lines) <= height
    assert all(len(line) <= width for line in lines)
    for needle in ("bpfaudit top", "4 rules (built-in default)", "events/s 46", "total 138",
                   "syscalls", "processes", "auids", "rule keys", "latest records",
                   "openat", "connect", "execve", "4242", "demo-proc", "alice", "unset",
                   "demo-files", "ECONNREFUSED", "losses", "no loss", "0:00:03"):
        assert needle in text, (needle, text)
    # counts and rates in the syscall table, biggest first
    syscall_lines = [ln for ln in lines if ln.lstrip().startswith(("openat ", "connect ", "execve "))]
    assert "90" in syscall_lines[0] and "openat" in syscall_lines[0]
    assert "36" in syscall_lines[1] and "connect" in syscall_lines[1]


def test_wide_screens_use_the_space():
    snap = build()
    narrow = text_of(render(snap, 80, 24), 80, 24)
    wide = text_of(render(snap, 200, 50), 200, 50)
    # wide: full loss-counter names, millisecond times, the full exe path
    assert "ring buffer lost" in wide and "ring lost" in narrow and "bpf submit" in narrow
    assert "kernel audit lost" in wide
    assert "/usr/bin/cat" in wide
    tail_rows_narrow = sum(1 for ln in narrow.split("\n") if "demo-proc" in ln and ":" in ln)
    tail_rows_wide = sum(1 for ln in wide.split("\n") if "demo-proc" in ln and ":" in ln)
    assert tail_rows_wide > tail_rows_narrow
    # four tables side by side on one line when wide
    assert any("syscalls" in ln and "rule keys" in ln for ln in wide.split("\n"))


def test_loss_panel_turns_red_when_losses_increase():
    quiet = build([losses()] * 3)
    panel_quiet = render(quiet, 80, 24)
    assert "no loss" in text_of(panel_quiet, 80, 24)
    assert not quiet.losing
    assert any("green" in s for s in styles_of(panel_quiet, 80, 24, "╭"))

    losing = build([losses(), losses(perf_lost=10), losses(perf_lost=250, seq_gaps=3)])
    assert losing.losing
    screen = render(losing, 80, 24)
    text = text_of(screen, 80, 24)
    assert "LOSING RECORDS" in text and "250" in text
    assert any("red" in s for s in styles_of(screen, 80, 24, "LOSING"))
    assert any("red" in s for s in styles_of(screen, 80, 24, "╭"))  # the border
    assert any("red" in s for s in styles_of(screen, 80, 24, "250"))


def test_losses_earlier_but_not_now_are_yellow():
    seconds = 12
    script = [losses(bpf_submit_failed=5 if s else 0) for s in range(seconds)]
    snap = build(script, seconds=seconds)
    assert not snap.losing and snap.lost_ever
    screen = render(snap, 80, 24)
    assert "lost earlier" in text_of(screen, 80, 24)
    assert any("yellow" in s for s in styles_of(screen, 80, 24, "╭"))


def test_failures_are_highlighted_in_the_tail():
    screen = render(build(), 120, 40)
    styles = styles_of(screen, 120, 40, "ECONNREFUSED")
    assert styles and all("red" in s for s in styles)
    assert not any("red" in s for s in styles_of(screen, 120, 40, "/etc/hostname"))


def test_no_source_counters_show_na():
    text = text_of(render(build(), 80, 24), 80, 24)
    assert "n/a" in text  # no losses() from this source, no kernel audit status


def test_sort_marker_and_pause_banner():
    from dataclasses import replace

    snap = build()
    assert "count▼" in text_of(render(snap, 80, 24), 80, 24)
    by_rate = replace(snap, sort="rate", paused=True)
    text = text_of(render(by_rate, 80, 24), 80, 24)
    assert "/s▼" in text and "PAUSED" in text and "sort by count" in text


def test_sparkline_scales_and_compresses():
    assert sparkline((0, 5, 10), 3) == " ▄█"
    assert sparkline((0, 1, 80), 3) == " ▁█"
    assert sparkline((0,) * 60, 60) == " " * 60
    assert len(sparkline(tuple(range(60)), 20)) == 20
    assert sparkline(tuple(range(60)), 20)[-1] == "█"


def test_keys_beyond_the_cap_are_shown_as_other():
    a = Aggregator(rules="r", transport="t", start=T0, cap=4)
    a.feed([event(pid=1)] * 50 + [event(pid=100 + i) for i in range(40)], T0 + 0.5)
    snap = a.snapshot(rows=5)
    assert snap.processes.other > 0
    assert sum(r.count for r in snap.processes.rows) <= 90 - snap.processes.other
    text = text_of(render(snap, 120, 40), 120, 40)
    other_line = [ln for ln in text.split("\n") if "(other)" in ln]
    assert other_line and f"{snap.processes.other:,}" in other_line[0]


def test_extra_capture_losses_get_their_own_column():
    script = [losses(stash_full=0, malformed=0), losses(stash_full=2, malformed=0),
              losses(stash_full=9, malformed=1)]
    snap = build(script)
    extra = snap.losses[-1]
    assert (extra.name, extra.total, extra.losing) == ("stash full + malformed", 10, True)
    assert snap.losing
    assert "other lost" in text_of(render(snap, 80, 24), 80, 24)
    assert "stash full + malformed" in text_of(render(snap, 200, 50), 200, 50)
    assert len(build([losses(stash_full=0, malformed=0)] * 3).losses) == 4 + 1  # reported, zero
    assert len(build().losses) == 4  # not reported: no column


def test_a_source_without_counters_does_not_claim_no_loss():
    text = text_of(render(build(), 80, 24), 80, 24)
    assert "no loss counters in this source" in text and "no loss " not in text.replace(
        "no loss counters", "")


@pytest.mark.parametrize("width,height", [(20, 5), (40, 10), (80, 8), (300, 100)])
def test_odd_terminal_sizes_are_cropped_not_overflowed(width, height):
    lines = text_of(render(build(), width, height), width, height).rstrip("\n").split("\n")
    assert len(lines) <= height and all(len(ln) <= width for ln in lines)
    assert lines[0].startswith("bpfaudit")


HOSTILE = ["/tmp/[/]", "[bold red]red[/]", "/tmp/\x1b]0;pwned\x07x", "/tmp/\x1b[2Jwipe", "caf\u00e9",
           "/tmp/\udcff\udcfe", "evil\u202etxt.exe", "back\\x1b"]


@pytest.mark.parametrize("width,height", [(80, 24), (200, 50)])
def test_names_a_process_controls_are_shown_inert(width, height):
    """Issue 15: a file or command name is never read as markup (no crash on "[/]", no style) and
    never reaches the terminal as a control sequence: control and format characters and bytes
    that were not UTF-8 are shown escaped, a backslash doubled."""
    a = Aggregator(rules="r", transport="t", start=T0, user_name=str)
    evs = [event(t=T0, name="openat", pid=100 + i, comm=name[:15], exe=name, auid=1000, key=name, path=name)
           for i, name in enumerate(HOSTILE)]
    a.feed(evs, T0 + 0.5)
    a.tick(T0 + 1.1)
    text = text_of(render(a.snapshot(), width, height), width, height)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    for shown in ("[/]", "[bold red]", "\\x1b]0;pwned\\x07", "\\x1b[2Jwipe", "café", "\\xff\\xfe",
                  "\\u202e", "back\\\\x1b"):
        assert shown in text, (shown, text)
    # "[bold red]red[/]" is text, not a style: its segments carry no red
    styles = styles_of(render(a.snapshot(), width, height), width, height, "[bold red]")
    assert styles and not any("red" in s for s in styles), styles
