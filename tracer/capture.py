"""A capture session: loads the programs for a rule set, drains the perf
buffer on a timer, and keeps the loss ledger. Every consumer (trace, top,
compare) reads records through this."""

from __future__ import annotations

import ctypes
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Deque, Dict, List, Optional, Set, Tuple

from tracer.errors import BpfauditError
from tracer.events import SyscallEvent
from tracer.layout import layout
from tracer.loader import Filters, Program, load_program
from tracer.reader import RecordDecoder


@dataclass
class CaptureOptions:
    rules: object = None  # a tracer.rules.RuleSet; None: the embedded default
    pid: int = 0
    comm: Optional[str] = None
    failed_only: bool = False
    syscalls: Optional[Set[str]] = None
    auid: Optional[int] = None
    page_cnt: int = 1024  # perf buffer pages per CPU (4 MiB)
    wakeup_events: int = 64  # the reader is woken once per this many samples per CPU
    drain_ms: int = 100  # and drains on this timer whatever the count
    queue_limit: int = 262144  # samples held between the reader thread and the consumer


def resolve_rules(rules):
    """The rule set to use: the given one or the embedded default."""
    if rules is None:
        from tracer.rules import default_rules

        rules = default_rules()
    return rules


class CaptureSession:
    """Attached programs plus a reader thread.

    The thread only moves raw samples from the perf buffer into a bounded
    queue: bcc's poll drains until the buffer is empty, so a slow callback
    would never return under a fast producer. Decoding happens in poll(), on
    the consumer's thread; a full queue drops samples and counts them.
    """

    def __init__(self, options: CaptureOptions):
        self.options = options
        self.ruleset = resolve_rules(options.rules)
        kernel_rules = self.ruleset.kernel_rules()
        if not kernel_rules:
            raise BpfauditError("the rule set has no exit-list rules: nothing to trace (add -a always,exit rules)")
        filters = Filters(options.pid, options.comm, options.failed_only, options.syscalls, options.auid)
        self._queue: Deque[Tuple[int, bytes]] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.perf_lost = 0
        self.userspace_dropped = 0
        # by perf ring (= the CPU whose BPF counters numbered the record), for the ledger's per-CPU check
        self.userspace_dropped_by_cpu: Dict[int, int] = defaultdict(int)
        self.delivered_by_cpu: Dict[int, int] = defaultdict(int)
        self.seq_gaps_by_cpu: Dict[int, int] = defaultdict(int)
        self.program: Optional[Program] = load_program(kernel_rules, filters)
        try:
            self.decoder = RecordDecoder(kernel_rules, self._decide)
            self.program.table("events").open_perf_buffer(
                self._on_sample,
                page_cnt=options.page_cnt,
                lost_cb=self._on_lost,
                wakeup_events=options.wakeup_events,
            )
            self._thread = threading.Thread(target=self._drain, name="bpfaudit-reader", daemon=True)
            self._thread.start()
            self.program.enable()
        except BaseException:
            self.close()
            raise
        self.transport = (
            f"perf buffer ({options.page_cnt} pages/CPU, wakeup every {options.wakeup_events}, "
            f"{options.drain_ms} ms drain)"
        )

    @property
    def startup_notes(self) -> List[str]:
        return self.program.startup_notes if self.program else []

    def _decide(self, event: SyscallEvent, start: int) -> Optional[int]:
        """Finishes a decision BPF could not make: the reference evaluator from rule `start` on."""
        from tracer.rules.evaluate import evaluate

        rules = self.ruleset.exit_rules
        i = evaluate(rules, event, start)
        if i is None or rules[i].action == "never":
            return None
        return i

    # -- reader thread ------------------------------------------------------
    def _on_sample(self, cpu, data, size) -> None:
        raw = ctypes.string_at(data, size)
        if len(self._queue) >= self.options.queue_limit:
            self.userspace_dropped += 1
            self.userspace_dropped_by_cpu[cpu] += 1
            return
        self._queue.append((cpu, raw))

    def _on_lost(self, count) -> None:
        self.perf_lost += count

    def _drain(self) -> None:
        bpf = self.program.bpf
        while not self._stop.is_set():
            bpf.perf_buffer_poll(self.options.drain_ms)
            bpf.perf_buffer_consume()  # what is below the wakeup threshold
            with self._ready:
                self._ready.notify_all()
        bpf.perf_buffer_consume()

    # -- consumer -------------------------------------------------------------
    def poll(self, timeout_ms: Optional[int] = None) -> List[SyscallEvent]:
        """Events drained so far, waiting up to timeout_ms (default: the drain interval) for some."""
        wait = (self.options.drain_ms if timeout_ms is None else timeout_ms) / 1000
        if not self._queue and wait > 0:
            with self._ready:
                self._ready.wait(wait)
        out: List[SyscallEvent] = []
        d = self.decoder
        decode, q = d.decode, self._queue
        for _ in range(len(q)):
            cpu, raw = q.popleft()
            gaps = d.seq_gaps
            event = decode(cpu, raw)
            self.delivered_by_cpu[cpu] += 1
            if d.seq_gaps != gaps:  # a sample's gap is on its own ring's sequence
                self.seq_gaps_by_cpu[cpu] += d.seq_gaps - gaps
            if event is not None:
                out.append(event)
        return out

    def detach(self) -> None:
        """Stops new records; the reader thread then drains what was submitted and ends."""
        prog = self.program
        if prog is None or prog.bpf is None:
            return
        for tp in list(prog.bpf.tracepoint_fds):
            prog.bpf.detach_tracepoint(tp)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def counters(self) -> Dict[str, int]:
        """BPF's per-CPU counters, summed, by BA_CNT_* name."""
        L = layout()
        table = self.program.table("counters")
        names = {v: k[len("BA_CNT_"):].lower() for k, v in L.consts.items() if k.startswith("BA_CNT_")}
        return {names[i]: sum(table[ctypes.c_int(i)]) for i in range(L.BA_NR_COUNTERS) if i in names}

    def counters_per_cpu(self) -> Dict[str, List[int]]:
        """BPF's per-CPU counters, by BA_CNT_* name: one value per possible CPU (the loss ledger's per-CPU view)."""
        L = layout()
        table = self.program.table("counters")
        names = {v: k[len("BA_CNT_"):].lower() for k, v in L.consts.items() if k.startswith("BA_CNT_")}
        return {names[i]: [int(v) for v in table[ctypes.c_int(i)]] for i in range(L.BA_NR_COUNTERS) if i in names}

    def delivery_per_cpu(self) -> Dict[str, Dict[int, int]]:
        """User space's per-CPU counts (by perf ring): delivered, userspace_dropped, seq_gaps."""
        return {
            "delivered": dict(self.delivered_by_cpu),
            "userspace_dropped": dict(self.userspace_dropped_by_cpu),
            "seq_gaps": dict(self.seq_gaps_by_cpu),
        }

    def losses(self) -> Dict[str, int]:
        c = self.counters()
        d = self.decoder
        return {
            "emitted": c["emitted"],
            "delivered": d.delivered,
            "bpf_submit_failed": c["submit_failed"],
            "perf_lost": self.perf_lost,
            "userspace_dropped": self.userspace_dropped,
            "queued": len(self._queue),
            "seq_gaps": d.seq_gaps,
            "malformed": d.malformed,
            "userspace_filtered": d.userspace_filtered,
            "stash_full": c["stash_full"],
        }

    def close(self) -> None:
        if self.program is not None:
            self.detach()
            self.program.close()
            self.program = None

    def __enter__(self) -> "CaptureSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_capture(options: CaptureOptions) -> CaptureSession:
    return CaptureSession(options)
