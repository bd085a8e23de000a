"""Record sources the dashboard can watch: live BPF capture, a replay of
`bpfaudit trace --format json` output, and kernel audit's status counters.

A source is a context manager with `rules`, `transport`, `finished` (why it
ended, "" while running), `clock()` (its notion of now, in epoch seconds),
`poll(timeout_ms) -> list[SyscallEvent]` and `losses() -> dict | None`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import IO, List, Optional, Tuple

from tracer.capture.session import DEFAULT_TRANSPORT
from tracer.errors import BpfauditError
from tracer.capture.events import SyscallEvent
from tracer.formats import jsonl

_REQUIRED = {
    f.name for f in dataclasses.fields(SyscallEvent)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
}


class LiveSource:
    """Live BPF capture (tracer.capture.session), attached for the `with` block."""

    kernel_audit = True  # kernel audit's counters describe the same moment

    def __init__(self, ruleset: object = None, rules: str = "", pid: Optional[int] = None,
                 transport: str = DEFAULT_TRANSPORT):
        self.ruleset = ruleset
        self.pid = pid
        self.capture_transport = transport  # CaptureOptions.transport (self.transport: how the header names it)
        self.rules = rules
        self.transport = ""
        self.finished = ""
        self._cap = None
        self._ctx = None
        self._tallier = None

    def __enter__(self) -> "LiveSource":
        try:
            from tracer.capture.session import CaptureOptions, open_capture
        except ImportError as err:
            raise BpfauditError(
                f"live capture is not available in this build ({err}); "
                "use --replay FILE to watch a recorded trace", exit_code=1) from None
        options = {"rules": self.ruleset, "transport": self.capture_transport}
        if self.pid is not None and "pid" in {f.name for f in dataclasses.fields(CaptureOptions)}:
            options["pid"] = self.pid  # filter in BPF: records of other processes cost nothing
        self._ctx = open_capture(CaptureOptions(**options))
        self._cap = self._ctx.__enter__()
        self.transport = str(getattr(self._cap, "transport", "live capture"))
        from tracer.formats import native

        # a capture that can count batches in the compiled core is polled for tallies
        counts_batches = native.available() and hasattr(self._cap, "poll_tally")
        self._tallier = native.Tallier(self._cap.decoder) if counts_batches else None
        return self

    def __exit__(self, *exc) -> Optional[bool]:
        ctx, self._ctx, self._cap = self._ctx, None, None
        if ctx is not None:
            return ctx.__exit__(*exc)
        return None

    def clock(self) -> float:
        return time.time()

    def poll(self, timeout_ms: int):
        """The events arrived: counted by the compiled core (an EventTally) when it is built."""
        if self._tallier is not None:
            return self._cap.poll_tally(self._tallier, timeout_ms=timeout_ms)
        return self._cap.poll(timeout_ms=timeout_ms)

    def losses(self) -> Optional[dict]:
        losses = self._cap.losses()
        if self.capture_transport == "ringbuf":
            # a BPF ring buffer writes no LOST records: the panel shows n/a, not a reassuring 0
            losses.pop("perf_lost", None)
        return losses


def parse_record(line: str, where: str) -> SyscallEvent:
    """One JSON line of `bpfaudit trace --format json` back into a SyscallEvent."""
    try:
        obj = json.loads(line)
    except ValueError as err:
        raise BpfauditError(f"{where}: not JSON ({err.args[0]}); --replay reads the output "
                            "of `bpfaudit trace --format json`") from None
    if not isinstance(obj, dict) or not _REQUIRED <= obj.keys():
        missing = sorted(_REQUIRED - obj.keys()) if isinstance(obj, dict) else ["(not an object)"]
        raise BpfauditError(f"{where}: not a bpfaudit record (missing {', '.join(missing[:4])}); "
                            "--replay reads the output of `bpfaudit trace --format json`")
    # duration_ns is derived, and later versions may add fields: from_json_dict keeps ours.
    try:
        return jsonl.from_json_dict(obj)
    except (TypeError, ValueError) as err:
        raise BpfauditError(f"{where}: bad record ({err})") from None


class ReplaySource:
    """Plays a recorded JSON-lines trace, paced by its timestamps.

    speed 1.0 is real time, 10 ten times faster, 0 as fast as possible (then
    each poll returns at most one recorded second, so per-second rates hold).
    The file is read line by line: memory does not grow with its length.
    """

    kernel_audit = False

    def __init__(self, path: str, speed: float = 1.0, batch: int = 5000):
        self.path = path
        self.speed = speed
        self.batch = batch
        self.rules = "n/a (replay)"
        self.transport = f"replay of {path}" + (f" (x{speed:g})" if speed else " (fast)")
        self.finished = ""
        self._file: Optional[IO[str]] = None
        self._lineno = 0
        self._next: Optional[SyscallEvent] = None
        self._v0 = 0.0  # virtual time of the first record
        self._w0 = 0.0  # monotonic time replay started
        self._vlast = 0.0

    def __enter__(self) -> "ReplaySource":
        try:
            self._file = open(self.path, encoding="utf-8")
        except OSError as err:
            raise BpfauditError(f"cannot read replay file {self.path}: {err.strerror}; "
                                "record one with `bpfaudit trace --format json > FILE`") from None
        self._advance()
        self._v0 = self._next.time if self._next else time.time()
        self._vlast = self._v0
        self._w0 = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        if self._file:
            self._file.close()
            self._file = None

    def _advance(self) -> None:
        self._next = None
        for line in self._file:
            self._lineno += 1
            if line.strip():
                self._next = parse_record(line, f"{self.path}:{self._lineno}")
                return
        self.finished = "replay finished"

    def clock(self) -> float:
        if self.speed > 0:
            return self._v0 + (time.monotonic() - self._w0) * self.speed
        return self._vlast

    def poll(self, timeout_ms: int) -> List[SyscallEvent]:
        out: List[SyscallEvent] = []
        if self.speed > 0:
            deadline = time.monotonic() + timeout_ms / 1000
            while True:
                vnow = self.clock()
                while self._next is not None and self._next.time <= vnow and len(out) < self.batch:
                    out.append(self._next)
                    self._advance()
                if out or self._next is None or len(out) >= self.batch:
                    break
                wait = min(deadline - time.monotonic(), (self._next.time - vnow) / self.speed)
                if wait <= 0:
                    break
                time.sleep(min(wait, 0.05))
            if self._next is None and not out:
                time.sleep(timeout_ms / 1000)  # nothing left: behave like an idle source
            return out
        if self._next is None:
            time.sleep(timeout_ms / 1000)
            return out
        second = int(self._next.time)
        while self._next is not None and int(self._next.time) == second and len(out) < self.batch:
            out.append(self._next)
            self._advance()
        self._vlast = max(self._vlast, out[-1].time)
        return out

    def losses(self) -> Optional[dict]:
        return None  # a recording carries no loss counters


def kernel_audit_status() -> Tuple[object, str]:
    """(status, "") from tracer.kaudit, or (None, why) when unavailable."""
    try:
        from tracer.kaudit.netlink import audit_status
    except ImportError:
        return None, "n/a (no kaudit module)"
    try:
        return audit_status(), ""
    except Exception as err:  # any failure only costs this one panel cell
        return None, f"n/a ({type(err).__name__})"
