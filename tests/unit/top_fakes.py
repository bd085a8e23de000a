"""Scripted record sources and event builders for the `bpfaudit top` unit tests."""

from __future__ import annotations

import io
from typing import List, Optional, Sequence, Tuple

from rich.console import Console

from tracer.capture.events import SyscallEvent

T0 = 1_760_000_000.0  # a fixed epoch second: tests never read the clock


def event(
    *,
    t: float = T0,
    name: str = "openat",
    nr: int = 257,
    ok: bool = True,
    exit: Optional[int] = None,
    pid: int = 100,
    comm: str = "cat",
    exe: Optional[str] = "/usr/bin/cat",
    auid: int = 1000,
    key: Optional[str] = None,
    path: Optional[str] = "/etc/hostname",
    serial: int = 1,
) -> SyscallEvent:
    return SyscallEvent(
        time=t, serial=serial, arch=0xC000003E, syscall=nr, syscall_name=name, success=ok,
        exit=(3 if ok else -2) if exit is None else exit, args=[0] * 6, ppid=1, pid=pid,
        tid=pid, auid=auid, uid=0, gid=0, euid=0, suid=0, fsuid=0, egid=0, sgid=0, fsgid=0,
        ses=1, tty="(none)", comm=comm, exe=exe, key=key, rule=0,
        paths=[path] if path else [],
    )


class ScriptedSource:
    """Yields one scripted batch per poll, one virtual second apart.

    script: a sequence of (events, losses) where losses is the cumulative
    loss dict the capture would report after that batch (or None).
    """

    def __init__(self, script: Sequence[Tuple[List[SyscallEvent], Optional[dict]]],
                 rules: str = "3 rules (test)", transport: str = "fake transport",
                 kernel_audit: bool = False):
        self.script = list(script)
        self.rules = rules
        self.transport = transport
        self.kernel_audit = kernel_audit
        self.finished = ""
        self.step = 0
        self.entered = False
        self.exited = False
        self._losses: Optional[dict] = None

    def __enter__(self):
        self.entered = True
        return self

    def __exit__(self, *exc):
        self.exited = True

    def clock(self) -> float:
        return T0 + self.step

    def poll(self, timeout_ms: int) -> List[SyscallEvent]:
        if self.step >= len(self.script):
            self.finished = "script done"
            return []
        events, losses = self.script[self.step]
        self.step += 1
        if losses is not None:
            self._losses = losses
        if self.step >= len(self.script):
            self.finished = "script done"
        return events

    def losses(self) -> Optional[dict]:
        return self._losses


def losses(**kw) -> dict:
    base = dict(emitted=0, delivered=0, bpf_submit_failed=0, perf_lost=0,
                userspace_dropped=0, seq_gaps=0)
    base.update(kw)
    return base


def text_of(renderable, width: int, height: int) -> str:
    """What the terminal would show, as plain text lines."""
    console = Console(width=width, height=height, record=True, file=io.StringIO(),
                      color_system="truecolor", force_terminal=True)
    console.print(renderable)
    return console.export_text()


def styles_of(renderable, width: int, height: int, needle: str) -> List[str]:
    """The styles rich gives to the segments containing `needle`."""
    console = Console(width=width, height=height, file=io.StringIO(),
                      color_system="truecolor", force_terminal=True)
    options = console.options.update(width=width, height=height)
    return [str(seg.style) for seg in console.render(renderable, options)
            if needle in seg.text]
