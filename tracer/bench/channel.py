"""JSON lines over a pipe, read with a deadline: both ends of the bench's talk with a build agent.

Imports nothing of tracer (the agent loads it by path, beside another revision's tracer).
Reads the file descriptor directly: a buffered reader and select() disagree about what is pending.
"""

from __future__ import annotations

import json
import os
import select
import time
from typing import Dict, Optional


class ChannelClosed(Exception):
    """The other end closed the pipe."""


class LineChannel:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self._buf = b""

    def send(self, message: Dict[str, object]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.wfd, data):]

    def pending(self) -> bool:
        """A whole line has arrived (or the pipe closed): receive() would not wait."""
        if b"\n" in self._buf:
            return True
        return bool(select.select([self.rfd], [], [], 0)[0])

    def receive(self, timeout: Optional[float] = None) -> Dict[str, object]:
        """The next line as a dict; TimeoutError after `timeout` s, ChannelClosed at end of file."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.rfd], [], [], left)[0]:
                raise TimeoutError(f"no answer within {timeout:g} s")
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                raise ChannelClosed("the other end closed the pipe")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)
