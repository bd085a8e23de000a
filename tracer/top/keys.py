"""Single-key commands from the terminal: stdin in cbreak mode read by a
thread, the terminal's settings restored on exit. Ctrl-C keeps working
because cbreak leaves ISIG on."""

from __future__ import annotations

import os
import queue
import select
import sys
import termios
import threading
import tty
from typing import List, Optional


class KeyReader:
    """`with KeyReader() as keys: keys.pending()` -> the keys typed since last call.

    Does nothing (pending() is always empty) when stdin is not a terminal.
    """

    def __init__(self, fd: Optional[int] = None):
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved = None
        self._queue: "queue.Queue[str]" = queue.Queue()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "KeyReader":
        try:
            if not os.isatty(self.fd):
                return self
            self._saved = termios.tcgetattr(self.fd)
        except (OSError, termios.error, ValueError):
            return self
        tty.setcbreak(self.fd)
        self._thread = threading.Thread(target=self._run, name="top-keys", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self.fd, 64)
            except (OSError, ValueError):
                return
            if not data:
                return
            for ch in data.decode(errors="replace"):
                self._queue.put(ch)

    def pending(self) -> List[str]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out
