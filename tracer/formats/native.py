"""Records written by the compiled formatter (_native.c): a batch of ring samples becomes one
block of audit text or JSON lines, with Python doing only the loop, the I/O and the ledger.

The Python formatters (audit_text.py, jsonl.py over reader.RecordDecoder) stay the reference:
the compiled one writes the same bytes for the same samples (tests/unit/test_native_format.py),
and the samples it does not format itself (EXECVE and CAPS items, a names list that needs
replaying, a decision user space must finish, an inet6 address in JSON) it hands back in
their place, for the reference to format.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

from tracer.capture.events import EventTally, SyscallEvent
from tracer.capture.layout import layout
from tracer.capture.names import GETNAME_ORDER, call_name
from tracer.capture.reader import RecordDecoder
from tracer.formats import audit_text, jsonl
from tracer.syscall_meta import PATH_ARGS
from tracer.syscall_table import syscall_name

try:
    from tracer.formats import _native
except ImportError:  # not built: scripts/setup builds it
    _native = None

NOT_BUILT = "the compiled formatter is not built (run scripts/setup): records are formatted in Python"

# A batch as a capture session takes it: a ring's equal-sized records laid out every `stride` bytes
# from `offset` in `chunk` (the first `count` of them, when given), or a list of samples
Source = Union[Tuple[bytes, int, int], Tuple[bytes, int, int, int], List[bytes]]


def available() -> bool:
    """Whether the compiled formatter is built for this interpreter and this bpf/record.h."""
    L = layout()
    return (_native is not None and _native.SCHEMA_VERSION == L.BA_SCHEMA_VERSION
            and _native.RECORD_HDR_SIZE == L.BA_RECORD_HDR_SIZE)


def _call_info(arch: int, nr: int):
    """What the compiled formatter needs of a syscall: its name as a JSON string, and for the
    PATH items the getname order (None: the slots' own) and the argument index of each name."""
    name = syscall_name(arch, nr)
    call = call_name(name)
    return jsonl._ENCODER.encode(name).encode("ascii"), GETNAME_ORDER.get(call), PATH_ARGS.get(call, ())


def _core_args(source: Source) -> Tuple[object, int, int, int]:
    """(samples or chunk, stride, offset, count) of a batch, as the compiled core walks it."""
    if type(source) is tuple:
        chunk, stride, offset = source[:3]
        return chunk, stride, offset, source[3] if len(source) > 3 else -1
    return source, 0, 0, -1


def _account(decoder: RecordDecoder, counts) -> List[int]:
    """Adds the compiled core's counts of a batch to the decoder's; returns its events per keys entry."""
    delivered, malformed, gaps, cut, by_rule = counts
    decoder.delivered += delivered
    decoder.malformed += malformed
    decoder.seq_gaps += gaps
    decoder.cut += cut
    return by_rule


def _decode_as(decoder: RecordDecoder, raw: bytes, serial: int) -> List[SyscallEvent]:
    """The reference's decoding of one sample the core handed back, under the serial the core gave it
    (the core counted its delivery and sequence already). Leaves the decoder's serial at `serial`."""
    decoder._serial = serial - 1
    return decoder._decode((raw,), account=False)


def key_label(key: Optional[str]) -> str:
    """The loss ledger's name of a rule key (LossLedger.observe's)."""
    return key.replace("\x01", ",") if key else "(none)"


class NativeWriter:
    """Formats a capture's batches. Shares the capture's RecordDecoder: its counters, its
    per-CPU sequence state, its serials, and the decoding of the samples handed back.

    With `fd` the text goes to that descriptor in blocks of a MiB or more (flush() writes the
    rest); without, take() hands it over."""

    def __init__(self, decoder: RecordDecoder, fmt: str, fd: int = -1):
        if not available():
            raise RuntimeError(NOT_BUILT)
        keys = decoder._keys
        if fmt == "audit":
            self._render = audit_text.format_event
            shown = [audit_text.untrusted(k) for k in keys] + ["(null)"]
        elif fmt == "json":
            self._render = jsonl.format_event
            shown = [jsonl._ENCODER.encode(None if k is None else jsonl.text(k)) for k in keys] + ["null"]
        else:
            raise ValueError(f"format {fmt!r}: audit or json")
        self._decoder = decoder
        self._labels = [key_label(k) for k in keys] + [key_label(None)]
        self._by_key: Dict[str, int] = {}  # the handed-back events' keys, in the batch being formatted
        self._formatter = _native.Formatter(
            json=fmt == "json", wall=decoder._mono_to_wall, serial=decoder._serial,
            keys=tuple(s.encode("ascii") for s in shown), call_info=_call_info, decide=decoder._decide is not None,
            hand_back=self._hand_back, fd=fd,
        )

    def _hand_back(self, raw: bytes, serial: int) -> bytes:
        """The reference's text of a sample, decoded under the serial it was given."""
        out = []
        for ev in _decode_as(self._decoder, raw, serial):
            out.append(self._render(ev))
            label = key_label(ev.key)
            self._by_key[label] = self._by_key.get(label, 0) + 1
        return "".join(out).encode("utf-8")

    def format(self, source: Source) -> Dict[str, int]:
        """Formats a batch (its text buffered or written); returns how many events of each rule key it held."""
        d, f = self._decoder, self._formatter
        self._by_key = by_key = {}
        samples, stride, offset, count = _core_args(source)
        try:
            counts = f.format(samples, d._next_seq, stride, offset, count)
        finally:
            d._serial = f.serial
        for label, n in zip(self._labels, _account(d, counts)):
            if n:
                by_key[label] = by_key.get(label, 0) + n
        return by_key

    def flush(self) -> None:
        """Writes what is buffered to the descriptor."""
        self._formatter.flush()

    def take(self) -> bytes:
        """What is buffered (no descriptor)."""
        return self._formatter.take()

    @property
    def pending(self) -> int:
        return self._formatter.pending

    @property
    def write_errno(self) -> int:
        """The first write error's errno (0: none). From then on events are counted, not written."""
        return self._formatter.write_errno

    @property
    def unwritten(self) -> int:
        """Events formatted but not written because of the write error."""
        return self._formatter.unwritten


class Tallier:
    """Counts a capture's batches for the dashboard (EventTally) with the compiled core: no object
    per event. Events user space must decide are decoded and decided by the capture's
    RecordDecoder; the last `tail` events of a batch are kept raw and decoded only if shown."""

    def __init__(self, decoder: RecordDecoder, tail: int = 200):
        if not available():
            raise RuntimeError(NOT_BUILT)
        self._decoder = decoder
        self._tail = tail
        self._keys = list(decoder._keys) + [None]
        self._names: Dict[int, str] = {}
        self._texts: Dict[bytes, str] = {}
        self._core = _native.Formatter(json=False, wall=decoder._mono_to_wall, serial=decoder._serial,
                                       keys=tuple(b"" for _ in self._keys), call_info=_call_info,
                                       decide=decoder._decide is not None, hand_back=None)

    def _text(self, raw: bytes) -> str:
        text = self._texts.get(raw)
        if text is None:
            if len(self._texts) > 4096:
                self._texts.clear()
            text = self._texts[raw] = raw.decode("utf-8", "surrogateescape")
        return text

    def _decode_one(self, raw: bytes, serial: int, keep_counts: bool):
        """The event of one sample under its serial; `keep_counts`: leave the decoder's counters
        as they were (a tail event is counted already)."""
        d = self._decoder
        saved = (d._serial, d.cut, d.userspace_filtered)
        try:
            events = _decode_as(d, raw, serial)
        finally:
            if keep_counts:
                d._serial, d.cut, d.userspace_filtered = saved
            else:
                d._serial = saved[0]
        return events[0] if events else None

    def tally(self, source: Source) -> EventTally:
        d, core = self._decoder, self._core
        core.serial = d._serial
        samples, stride, offset, count = _core_args(source)
        counts, t = core.tally(samples, d._next_seq, stride, offset, count, 2 * self._tail)
        d._serial = core.serial
        by_rule = _account(d, counts)
        n, failures, syscalls, auids, procs, labels, tail, back = t
        out = EventTally(events=n, failures=failures, auids=auids, processes=procs)
        names = self._names
        for key, c in syscalls.items():
            name = names.get(key)
            if name is None:
                name = names[key] = syscall_name(key >> 32, key & 0xFFFFFFFF)
            out.syscalls[name] = out.syscalls.get(name, 0) + c
        for pid, (comm, exe) in labels.items():
            out.labels[pid] = (self._text(comm), None if exe is None else self._text(exe))
        for key, c in zip(self._keys, by_rule):
            if c:
                out.keys[key] = out.keys.get(key, 0) + c
        decided = {}
        for raw, serial in back:
            ev = decided[serial] = self._decode_one(raw, serial, False)
            if ev is not None:
                out.decided.append(ev)
        # twice the tail is kept raw, so that events user space filtered out leave room (the tail
        # comes short only when more than `tail` of the last 2 * `tail` samples were filtered)
        out.tail = [(lambda ev=decided[serial]: ev) if was_back else
                    (lambda raw=raw, serial=serial: self._decode_one(raw, serial, True))
                    for raw, serial, was_back in tail if not was_back or decided[serial] is not None][-self._tail:]
        return out
