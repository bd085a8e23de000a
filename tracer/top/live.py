"""The dashboard loop: feeds a source's records to the aggregator and redraws
the screen a few times per second; everything else lives in pure modules."""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Callable, Optional, Tuple

from rich.console import Console
from rich.live import Live

from tracer.top.aggregate import Aggregator
from tracer.top.keys import KeyReader
from tracer.top.render import render
from tracer.top.snapshot import Snapshot
from tracer.top.sources import kernel_audit_status

KAUDIT_PERIOD = 1.0  # seconds between kernel audit status requests


def run_top(
    source,
    *,
    refresh_hz: float = 4.0,
    duration: Optional[float] = None,
    pid: Optional[int] = None,
    console: Optional[Console] = None,
    keys: bool = True,
    kaudit: Callable[[], Tuple[object, str]] = kernel_audit_status,
    sort: str = "count",
) -> Snapshot:
    """Watch `source` until q, Ctrl-C, `duration` seconds, or (when not on a
    terminal) the end of the source; returns the last snapshot.

    On a terminal the screen is a full-screen rich Live view; otherwise the
    final snapshot is printed once (for pipes and batch use).
    """
    console = console or Console()
    interactive = console.is_terminal
    period = 1.0 / max(0.5, min(refresh_hz, 30.0))
    paused: Optional[Snapshot] = None
    snap: Optional[Snapshot] = None

    if not getattr(source, "kernel_audit", False):
        # a recording's losses were not this kernel's: do not mix them in
        kaudit = lambda: (None, "n/a (not live)")  # noqa: E731
    if interactive and getattr(source, "kernel_audit", False):
        # compiling and attaching BPF takes seconds: say why the screen waits
        console.print("bpfaudit top: attaching BPF programs...", style="dim", highlight=False)
    with source:
        agg = Aggregator(rules=source.rules, transport=source.transport, start=source.clock())

        def take() -> Snapshot:
            return agg.snapshot(rows=15, tail=max(10, console.height), sort=sort)

        with ExitStack() as stack:
            live = None
            reader = None
            if interactive:
                live = stack.enter_context(Live(
                    console=console, screen=True, auto_refresh=False,
                    redirect_stdout=False, redirect_stderr=False))
                if keys:
                    reader = stack.enter_context(KeyReader())
            started = time.monotonic()
            next_draw = started
            next_kaudit = started
            try:
                while True:
                    mono = time.monotonic()
                    if duration is not None and mono - started >= duration:
                        break
                    timeout = int(max(0.0, min(next_draw - mono, 0.1)) * 1000)
                    events = source.poll(timeout)
                    if pid is not None and isinstance(events, list):  # a tally is filtered in BPF
                        events = [e for e in events if e.pid == pid]
                    now = source.clock()
                    agg.feed(events, now)
                    if source.finished and not agg.finished:
                        agg.finish(source.finished)
                    mono = time.monotonic()
                    if mono >= next_kaudit:
                        status, why = kaudit()
                        agg.observe_kaudit(status, now, why)
                        next_kaudit = mono + KAUDIT_PERIOD
                    if reader is not None:
                        quit_now = False
                        for key in reader.pending():
                            if key in ("q", "Q"):
                                quit_now = True
                            elif key in ("p", "P", " "):
                                paused = None if paused else agg.snapshot(
                                    rows=15, tail=max(10, console.height), sort=sort, paused=True)
                                next_draw = mono
                            elif key in ("s", "S"):
                                sort = "rate" if sort == "count" else "count"
                                next_draw = mono
                        if quit_now:
                            break
                    if mono >= next_draw:
                        agg.observe_losses(source.losses(), now)
                        agg.tick(source.clock())
                        snap = take()
                        if live is not None:
                            w, h = console.size
                            live.update(render(paused or snap, w, h), refresh=True)
                        next_draw = mono + period
                    if not interactive and source.finished and duration is None:
                        break
            except KeyboardInterrupt:
                pass  # Ctrl-C quits; the with-blocks detach and restore the terminal
        if not interactive:
            # drain what is in flight so the printed totals add up
            events = source.poll(0)
            if pid is not None and isinstance(events, list):
                events = [e for e in events if e.pid == pid]
            agg.feed(events, source.clock())
        agg.observe_losses(source.losses(), source.clock())
        snap = take()
    if not interactive:
        w, h = console.size
        console.print(render(snap, w, h))
    return snap
