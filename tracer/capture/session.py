"""A capture session: loads the programs for a rule set, reads their perf
rings (or BPF ring buffer) a batch at a time, and keeps the loss counters.
Every consumer (trace, top, compare) reads records through this."""

from __future__ import annotations

import ctypes
import mmap
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import partial
from typing import Deque, Dict, List, Optional, Sequence, Set, Tuple

from tracer.errors import BpfauditError
from tracer.capture.events import EventTally, SyscallEvent
from tracer.capture.layout import layout
from tracer.capture.loader import Filters, Program, load_program
from tracer.capture.perf_ring import SAMPLE_DATA_OFFSET, PerfRings, online_cpus
from tracer.capture.reader import RecordDecoder
from tracer.capture.ringbuf import HDR_SZ, RingBuffer, SequenceGaps, merge_tallies, tally_samples, tally_uniform

TRANSPORTS = ("perf-ring", "ringbuf", "bcc")
# Chosen by scripts/bench (README "Benchmark"): measured side by side in the same runs, a
# ring buffer submission costs BPF 20-45 % less than a perf ring one, and a forced wake-up
# costs the traced thread 13-20 us, so one per 1024 records per CPU, not per 256.
DEFAULT_TRANSPORT = "ringbuf"
DEFAULT_WAKEUP = 1024


@dataclass
class CaptureOptions:
    rules: object = None  # a tracer.rules.RuleSet; None: the embedded default
    pid: int = 0
    comm: Optional[str] = None
    failed_only: bool = False
    syscalls: Optional[Set[str]] = None
    auid: Optional[int] = None
    page_cnt: int = 1024  # perf buffer pages per CPU (4 MiB); ringbuf: this many per online CPU, in one ring
    wakeup_events: int = DEFAULT_WAKEUP  # the reader is woken once per this many samples per CPU
    # (ringbuf: a power of two, compiled into the program; 0 = never, the timed drain alone)
    drain_ms: int = 100  # and drains on this timer whatever the count
    queue_limit: int = 262144  # samples held between the reader thread and the consumer
    transport: str = DEFAULT_TRANSPORT  # or "perf-ring", "bcc": see CaptureSession


def open_perf_rings(events_map, page_cnt: int, wakeup_events: int) -> PerfRings:
    return PerfRings(events_map, page_cnt, wakeup_events)


def ringbuf_pages(page_cnt: int) -> int:
    """The one ring buffer's size: `page_cnt` pages per online CPU (the perf rings' memory), a power of two."""
    pages = page_cnt * len(online_cpus())
    return 1 << (pages - 1).bit_length()


def ringbuf_defines(options: "CaptureOptions") -> List[str]:
    """The compiler flags that make the program submit to a ring buffer instead of perf rings."""
    w = options.wakeup_events
    if w < 0 or w & (w - 1):
        raise BpfauditError(f"ring buffer wake-up every {w} records: use 0 or a power of two (e.g. {DEFAULT_WAKEUP})")
    return [f"BA_RINGBUF={ringbuf_pages(options.page_cnt)}", f"BA_RINGBUF_WAKEUP={w}"]


def open_ring_buffer(events_map) -> RingBuffer:
    return RingBuffer(events_map.map_fd, events_map.max_entries)


def resolve_rules(rules):
    """The rule set to use: the given one or the embedded default."""
    if rules is None:
        from tracer.rules import default_rules

        rules = default_rules()
    return rules


class CaptureSession:
    """Attached programs, and the ring(s) their records arrive in.

    Three transports. "perf-ring" opens and maps the per-CPU
    rings itself, and poll() takes everything a ring holds in one copy and
    decodes it as one batch, on the consumer's thread: the rings are the only
    buffer (`page_cnt`), and a consumer that falls behind makes BPF's
    submissions fail, counted per CPU. A second Python thread would only
    contend for the GIL: measured, it lost records the single thread kept.

    "ringbuf" (the default) is the same design over one BPF ring buffer shared by all CPUs
    (tracer/capture/ringbuf.py; the program compiled with -DBA_RINGBUF): BPF submits
    without waking the reader except every `wakeup_events`-th record of a CPU,
    poll() drains on its timer. Records of all CPUs share the ring, so the
    per-CPU counts go by each record's own `cpu` field (the CPU whose counters
    numbered it), not by ring.

    "bcc" is bcc's perf buffer, a ctypes callback per sample. bcc's poll
    drains until the rings are empty, so a slow callback would never return
    under a fast producer: a reader thread only moves raw samples into a
    bounded queue (`queue_limit`, overflow counted as userspace_dropped), and
    poll() decodes them, consecutive samples of one ring as one batch.
    """

    def __init__(self, options: CaptureOptions):
        if options.transport not in TRANSPORTS:
            raise BpfauditError(f"transport {options.transport!r}: use one of {', '.join(TRANSPORTS)}")
        if options.page_cnt <= 0 or options.page_cnt & (options.page_cnt - 1):
            raise BpfauditError(f"perf buffer of {options.page_cnt} pages per CPU: use a power of two (e.g. 1024)")
        self.options = options
        self.ruleset = resolve_rules(options.rules)
        kernel_rules = self.ruleset.kernel_rules()
        if not kernel_rules:
            raise BpfauditError("the rule set has no exit-list rules: nothing to trace (add -a always,exit rules)")
        filters = Filters(options.pid, options.comm, options.failed_only, options.syscalls, options.auid)
        # bcc: (ring, samples) in arrival order. The two counts are each written by one thread
        # only; their difference is losses()["queued"] (always 0 between polls with perf-ring)
        self._queue: Deque[Tuple[int, Sequence[bytes]]] = deque()
        self._enqueued = 0  # samples read: by bcc's reader thread, or by poll() from the rings
        self._taken = 0  # samples decoded (or discarded) by the consumer
        self._ready = threading.Condition(threading.Lock())
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._rings = None
        self._ringbuf: Optional[RingBuffer] = None
        self.perf_lost = 0
        self.userspace_dropped = 0
        # by the CPU whose BPF counters numbered the record (its perf ring; ringbuf: the record's cpu
        # field), for the ledger's per-CPU check
        self.userspace_dropped_by_cpu: Dict[int, int] = defaultdict(int)
        self.delivered_by_cpu: Dict[int, int] = defaultdict(int)
        self.seq_gaps_by_cpu: Dict[int, int] = defaultdict(int)
        self.perf_lost_by_cpu: Dict[int, int] = defaultdict(int)  # perf-ring transport only
        defines = ringbuf_defines(options) if options.transport == "ringbuf" else []
        self.program: Optional[Program] = load_program(kernel_rules, filters, defines)
        try:
            self.decoder = RecordDecoder(kernel_rules, self._decide)
            events = self.program.table("events")
            if options.transport == "perf-ring":
                self._rings = open_perf_rings(events, options.page_cnt, options.wakeup_events)
            elif options.transport == "ringbuf":
                rec = layout().structs["ba_record"]
                self._cpu_offset, self._seq_offset = rec.cpu.offset, rec.seq.offset
                self._ringbuf_gaps = SequenceGaps()
                self._ringbuf = open_ring_buffer(events)
            else:
                events.open_perf_buffer(self._on_sample, page_cnt=options.page_cnt, lost_cb=self._on_lost,
                                        wakeup_events=options.wakeup_events)
                self._thread = threading.Thread(target=self._drain_bcc, name="bpfaudit-reader", daemon=True)
                self._thread.start()
            self.program.enable()
        except BaseException:
            self.close()
            raise
        if self._ringbuf is not None:
            self.transport = (
                f"ringbuf transport, BPF ring buffer ({events.max_entries // mmap.PAGESIZE} pages shared, wakeup "
                f"every {options.wakeup_events} per CPU, {options.drain_ms} ms drain)"
            )
        else:
            self.transport = (
                f"{options.transport} transport, perf buffer ({options.page_cnt} pages/CPU, wakeup every "
                f"{options.wakeup_events}, {options.drain_ms} ms drain)"
            )
        # bcc's samples reach poll() through the reader thread's queue; the rings are read in poll()
        self._take = self._take_rings if self._rings is not None else \
            self._take_ringbuf if self._ringbuf is not None else self._take_queue

    @property
    def startup_notes(self) -> List[str]:
        return self.program.startup_notes if self.program else []

    @property
    def follows_path_walk(self) -> bool:
        """PATH objects come from the kernel functions of the path walk (bpf/objects.h BA_HOOKS);
        False: from where each call left them at sys_exit (docs/records.md)."""
        return bool(self.program and self.program.hooks)

    def _decide(self, event: SyscallEvent, start: int) -> Optional[int]:
        """Finishes a decision BPF could not make: the reference evaluator from rule `start` on."""
        from tracer.rules.evaluate import evaluate

        rules = self.ruleset.exit_rules
        i = evaluate(rules, event, start)
        if i is None or rules[i].action == "never":
            return None
        return i

    # -- bcc's reader thread --------------------------------------------------
    def _room(self) -> int:
        return self.options.queue_limit - (self._enqueued - self._taken)

    def _on_sample(self, cpu, data, size) -> None:
        """bcc's per-sample callback."""
        raw = ctypes.string_at(data, size)
        if self._room() <= 0:
            self.userspace_dropped += 1
            self.userspace_dropped_by_cpu[cpu] += 1
            return
        self._queue.append((cpu, (raw,)))
        self._enqueued += 1

    def _on_lost(self, count) -> None:
        self.perf_lost += count

    def _drain_bcc(self) -> None:
        bpf = self.program.bpf
        while not self._stop.is_set():
            bpf.perf_buffer_poll(self.options.drain_ms)
            bpf.perf_buffer_consume()  # what is below the wakeup threshold
            with self._ready:
                self._ready.notify_all()
        bpf.perf_buffer_consume()

    # -- consumer -------------------------------------------------------------
    def _wait(self, timeout_ms: Optional[int]) -> None:
        """Until a ring passes its wake-up count (bcc: records are queued), at most timeout_ms
        (default: the drain interval)."""
        wait = (self.options.drain_ms if timeout_ms is None else timeout_ms) / 1000
        if wait <= 0:
            return
        if self._rings is not None:
            # even with records pending: a poll that never waits takes them a few at a time and
            # spends its CPU per batch (measured: 3-5 us per record instead of 1.3 at 150k/s)
            self._rings.wait(wait)
        elif self._ringbuf is not None:
            self._ringbuf.wait(wait)
        elif not self._queue:
            with self._ready:
                self._ready.wait(wait)

    def _take_rings(self):
        """(ring, samples taken, the batch) of each ring holding any: everything it holds, in one read.
        A batch is (chunk, stride, offset, count), equal-sized samples read in place, or a list of samples."""
        for cpu, ring in self._rings.rings.items():
            batch = ring.read()
            if batch.lost:
                self.perf_lost += batch.lost
                self.perf_lost_by_cpu[cpu] += batch.lost
            n = batch.count
            if not n:
                continue
            self._enqueued += n
            if batch.stride:
                yield cpu, n, (batch.chunk, batch.stride, SAMPLE_DATA_OFFSET, n)
            else:
                yield cpu, n, batch.samples

    def _take_ringbuf(self):
        """(None, samples taken, the batch): everything the ring buffer holds, in one read,
        as one batch. Records of all CPUs are mixed in it: the per-CPU counts (delivered,
        sequence gaps) are made here, by each record's cpu field, before the batch is decoded."""
        batch = self._ringbuf.reader.read()
        if not batch.count:
            return
        self._enqueued += batch.count
        cpu_at, seq_at = self._cpu_offset, self._seq_offset
        tally = {}
        if batch.uniform:
            tally = tally_uniform(batch.chunk, batch.stride, batch.uniform, cpu_at, seq_at)
        if batch.samples:
            tally = merge_tallies(tally, tally_samples(batch.samples, cpu_at, seq_at))
        for cpu, (n, _first, _last) in tally.items():
            self.delivered_by_cpu[cpu] += n
        for cpu, gaps in self._ringbuf_gaps.add(tally).items():
            self.seq_gaps_by_cpu[cpu] += gaps
        if batch.uniform:
            yield None, batch.uniform, (batch.chunk, batch.stride, HDR_SZ, batch.uniform)
        if batch.samples:
            yield None, len(batch.samples), batch.samples

    def _take_queue(self):
        """(ring, samples taken, the batch) of runs from the reader thread's queue (bcc's: a sample per entry)."""
        q = self._queue
        run_cpu, run = -1, []
        for _ in range(len(q)):
            cpu, samples = q.popleft()
            if cpu != run_cpu and run:
                yield run_cpu, len(run), run
                run = []
            run_cpu = cpu
            run.extend(samples)
        if run:
            yield run_cpu, len(run), run

    def poll(self, timeout_ms: Optional[int] = None) -> List[SyscallEvent]:
        """Events arrived so far, waiting up to timeout_ms (default: the drain interval) for some."""
        d = self.decoder
        out: List[SyscallEvent] = []
        for events in self._consume(timeout_ms, partial(_decode, d)):
            out.extend(events)
        return out

    def poll_into(self, writer, timeout_ms: Optional[int] = None) -> Dict[str, int]:
        """Like poll(), but the events go to `writer` (tracer/formats/native.NativeWriter), which
        formats each batch whole; returns how many events of each rule key arrived."""
        by_key: Dict[str, int] = defaultdict(int)
        for keys in self._consume(timeout_ms, lambda cpu, batch: writer.format(batch)):
            for key, n in keys.items():
                by_key[key] += n
        return by_key

    def poll_tally(self, tallier, timeout_ms: Optional[int] = None) -> EventTally:
        """Like poll(), but what `tallier` (tracer/formats/native.Tallier) counts of the events:
        the dashboard's view of them, without an object per event."""
        total = EventTally()
        for t in self._consume(timeout_ms, lambda cpu, batch: tallier.tally(batch)):
            total.merge(t)
        return total

    def _consume(self, timeout_ms: Optional[int], handle):
        """handle(cpu, batch) of each batch arrived so far (after waiting up to timeout_ms), with the
        per-CPU delivery counts kept whatever handle() does."""
        self._wait(timeout_ms)
        d = self.decoder
        for cpu, n, batch in self._take():
            gaps = d.seq_gaps
            try:
                yield handle(cpu, batch)
            finally:
                self._taken += n
                if cpu is not None:  # a ring of one CPU (ringbuf: counted by _take_ringbuf)
                    self.delivered_by_cpu[cpu] += n
                    if d.seq_gaps != gaps:  # a sample's gap is on its own ring's sequence
                        self.seq_gaps_by_cpu[cpu] += d.seq_gaps - gaps

    def discard(self, timeout_ms: Optional[int] = None) -> int:
        """Like poll(), but takes the samples undecoded and returns how many (counted as
        delivered): a consumer measuring the transport alone, as the benchmark's S3 does."""
        self._wait(timeout_ms)
        total = 0
        for cpu, n, _batch in self._take():
            if cpu is not None:
                self.delivered_by_cpu[cpu] += n
            self.decoder.delivered += n
            self._taken += n
            total += n
        return total

    def detach(self) -> None:
        """Stops new records. What was submitted stays to be read: the next poll() takes it
        (bcc: the reader thread moves it into the queue before ending)."""
        prog = self.program
        if prog is None or prog.bpf is None:
            return
        prog.detach()
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
        """User space's per-CPU counts (by perf ring; ringbuf: by the records' cpu field): delivered,
        userspace_dropped, seq_gaps, and perf_lost (the rings' LOST records; perf-ring transport only:
        bcc's callback does not say the CPU, and a BPF ring buffer writes no LOST records)."""
        return {
            "delivered": dict(self.delivered_by_cpu),
            "userspace_dropped": dict(self.userspace_dropped_by_cpu),
            "seq_gaps": dict(self.seq_gaps_by_cpu),
            "perf_lost": dict(self.perf_lost_by_cpu),
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
            "queued": self._enqueued - self._taken,
            # ringbuf: counted per CPU from the ring's reads (the same count for in-order records)
            "seq_gaps": sum(self.seq_gaps_by_cpu.values()) if self.options.transport == "ringbuf" else d.seq_gaps,
            "malformed": d.malformed,
            "userspace_filtered": d.userspace_filtered,
            "stash_full": c["stash_full"],
            "cut": c["cut"],
            "cut_delivered": d.cut,
        }

    def close(self) -> None:
        if self.program is not None:
            self.detach()
            self.program.close()
            self.program = None
        if self._rings is not None:  # after the program: its map held the rings' events
            self._rings.close()
            self._rings = None
        if self._ringbuf is not None:  # the mappings hold the map until unmapped
            self._ringbuf.close()
            self._ringbuf = None

    def __enter__(self) -> "CaptureSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _decode(decoder: RecordDecoder, cpu: Optional[int], batch) -> List[SyscallEvent]:
    """The events of a batch as _take() gives it."""
    if type(batch) is tuple:
        chunk, stride, offset, count = batch
        return decoder.decode_uniform(-1 if cpu is None else cpu, chunk[: count * stride], stride, offset)
    return decoder.decode_batch(-1 if cpu is None else cpu, batch)


def open_capture(options: CaptureOptions) -> CaptureSession:
    return CaptureSession(options)
