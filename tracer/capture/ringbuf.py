"""The BPF ring buffer read directly: one BPF_MAP_TYPE_RINGBUF shared by all CPUs, mapped
here and walked a whole batch at a time (no per-record callback), the alternative transport.

Layouts and constants are the kernel's (kernel/bpf/ringbuf.c, linux/bpf.h): page 0 holds
consumer_pos (mapped read-write), page 1 producer_pos, then the data area (the kernel maps it
twice in a row when asked, for contiguous reads across its end; mapped once here, a read that
wraps is joined from two slices, and the ring's pages count once in resident memory). Each record
starts with an 8-byte header (u32 len with BUSY and DISCARD bits, u32 page offset) and
takes len + 8 bytes rounded up to 8.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import select
import struct
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from tracer.errors import BpfauditError
from tracer.capture.perf_ring import epoll_wait

BUSY_BIT = 1 << 31  # reserved, not yet committed: nothing after it may be read yet
DISCARD_BIT = 1 << 30  # committed as discarded: skipped
HDR_SZ = 8  # BPF_RINGBUF_HDR_SZ
SAMPLE_DATA_OFFSET = HDR_SZ  # a record's data follows its header

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def record_size(length: int) -> int:
    """Bytes a record of `length` data bytes takes in the ring: header and data, 8-aligned."""
    return (length + HDR_SZ + 7) & ~7


def uniform_prefix(view: bytes) -> Tuple[int, int]:
    """(stride, count): the leading records of `view` that are committed and of the first one's length.

    Found a header byte column at a time (every stride-th byte, a C-speed slice and lstrip),
    so a ring of equal records costs no Python step per record; a busy, discarded or
    differently sized record ends the prefix.
    """
    if len(view) < HDR_SZ:
        return 0, 0
    (hlen,) = _U32.unpack_from(view, 0)
    if hlen & (BUSY_BIT | DISCARD_BIT):
        return 0, 0
    stride = record_size(hlen)
    count = len(view) // stride
    for col in range(4):  # the u32 len: equal bytes mean equal length and the same (clear) flag bits
        column = view[col::stride][:count]
        count = min(count, len(column) - len(column.lstrip(view[col : col + 1])))
    return stride, count


@dataclass
class Scan:
    """Where the committed records of a read lie: a uniform prefix, then one span per other record."""

    stride: int = 0
    uniform: int = 0  # records in the prefix, one every `stride` bytes from 0
    spans: List[Tuple[int, int]] = field(default_factory=list)  # (data offset, length) after the prefix
    end: int = 0  # bytes the consumer may hand back
    discarded: int = 0
    corrupt: bool = False


def scan_records(view: bytes) -> Scan:
    """Walks ring records laid out contiguously in `view` (consumer_pos to producer_pos).

    Stops at the first busy record (its producer is still writing; later records may be
    committed already but must wait, as the kernel's own consumer does). A header whose
    length runs past the producer position marks the read corrupt and uses it all.
    """
    stride, uniform = uniform_prefix(view)
    out = Scan(stride, uniform)
    off, n = stride * uniform, len(view)
    unpack = _U32.unpack_from
    append = out.spans.append
    while off + HDR_SZ <= n:
        (hlen,) = unpack(view, off)
        if hlen & BUSY_BIT:
            break
        length = hlen & ~(BUSY_BIT | DISCARD_BIT)
        size = record_size(length)
        if off + size > n:
            out.corrupt, out.end = True, n
            return out
        if hlen & DISCARD_BIT:
            out.discarded += 1
        else:
            append((off + HDR_SZ, length))
        off += size
    out.end = off
    return out


@dataclass
class RingbufBatch:
    """One read: `chunk` holds the committed records as they lay in the ring; the first
    `uniform` are one every `stride` bytes (data at +8), the rest were cut into `samples`."""

    chunk: bytes = b""
    stride: int = 0
    uniform: int = 0
    samples: List[bytes] = field(default_factory=list)
    discarded: int = 0
    corrupt: bool = False

    @property
    def count(self) -> int:
        return self.uniform + len(self.samples)

    @property
    def uniform_chunk(self) -> bytes:
        return self.chunk[: self.uniform * self.stride]

    def raw_samples(self) -> List[bytes]:
        """Every record's data, in order (the uniform ones at their padded size)."""
        s = self.stride
        if not self.uniform:
            return list(self.samples)
        return [self.chunk[i + HDR_SZ : i + s] for i in range(0, self.uniform * s, s)] + self.samples


class RingbufReader:
    """Reads a mapped ring buffer: `consumer` is the writable consumer page, `data` the
    producer page followed by the data area (`data_size` bytes, a power of two).

    Only the kernel moves producer_pos and clears BUSY bits; only we move consumer_pos.
    A slice of the mapping is a memcpy whose loads may run in any order, so a record seen
    committed in one copy may have been copied before its data was written: the records
    found committed are therefore copied a second time, after the first copy (x86 keeps
    loads in order with loads), and only that copy is decoded. consumer_pos is stored
    after both copies, so the kernel cannot reuse the space while it is read.
    """

    def __init__(self, consumer, data, data_size: int, page_size: int = mmap.PAGESIZE):
        if data_size <= 0 or data_size & (data_size - 1):
            raise ValueError(f"ring buffer data size {data_size} is not a power of two")
        self._consumer = ctypes.c_uint64.from_buffer(consumer, 0)
        self._data = data
        self.data_size, self._mask, self._base = data_size, data_size - 1, page_size
        self.corrupt = 0  # reads that met an impossible record header
        self.discarded = 0

    def pending(self) -> int:
        """Bytes reserved by producers and not handed back yet."""
        return _U64.unpack_from(self._data, 0)[0] - self._consumer.value

    def _read(self, pos: int, length: int) -> bytes:
        """A copy of `length` bytes from ring position `pos`, joined across the end of the data area
        (mapped once: the kernel lets it be mapped twice in a row, but every page would then count
        twice in the process's resident memory)."""
        off = pos & self._mask
        start = self._base + off
        if off + length <= self.data_size:
            return self._data[start : start + length]
        head = self.data_size - off
        return self._data[start : start + head] + self._data[self._base : self._base + length - head]

    def read(self) -> RingbufBatch:
        """Every committed record in the ring now, up to the first busy one; the space is handed back."""
        prod = _U64.unpack_from(self._data, 0)[0]
        cons = self._consumer.value
        if prod == cons:
            return RingbufBatch()
        first = self._read(cons, prod - cons)
        found = scan_records(first)
        if found.corrupt:
            self.corrupt += 1
            self._consumer.value = cons + found.end
            return RingbufBatch(corrupt=True)
        if not found.end:
            return RingbufBatch()  # the oldest record is still being written
        chunk = self._read(cons, found.end)
        self._consumer.value = cons + found.end
        self.discarded += found.discarded
        return RingbufBatch(chunk, found.stride, found.uniform, [chunk[o : o + n] for o, n in found.spans],
                            found.discarded)

    def release(self) -> None:
        """Drops the view into the consumer page (a mapping cannot close while it exists)."""
        self._consumer = None


# -- records of several CPUs in one ring --------------------------------------------------
# cpu -> (records, first seq, last seq) of one read: what the per-CPU ledger needs, found without
# splitting the read (records of two busy CPUs alternate, and a decode call per short run costs
# more than the records: measured 5.0 us per record alternating vs 1.25 in one call)
Tally = Dict[int, Tuple[int, int, int]]


def tally_uniform(chunk: bytes, stride: int, count: int, cpu_at: int, seq_at: int) -> Tally:
    """Per CPU (the u32 at `cpu_at` of each record's data; `seq_at`: its u64 sequence number) in
    the first `count` records of `chunk`, one every `stride` bytes.

    On the CPU number's low byte column (count, find, rfind: C-speed) when every CPU number is
    below 256; otherwise record by record.
    """
    at, end = HDR_SZ + cpu_at, count * stride
    if any(chunk[at + i : end : stride].strip(b"\0") for i in (1, 2, 3)):
        return tally_samples([chunk[i + HDR_SZ : i + stride] for i in range(0, end, stride)], cpu_at, seq_at)
    low = chunk[at:end:stride]
    out: Tally = {}
    for cpu in set(low):
        b = bytes((cpu,))
        first = _U64.unpack_from(chunk, low.find(b) * stride + HDR_SZ + seq_at)[0]
        last = _U64.unpack_from(chunk, low.rfind(b) * stride + HDR_SZ + seq_at)[0]
        out[cpu] = (low.count(b), first, last)
    return out


def tally_samples(samples: List[bytes], cpu_at: int, seq_at: int, prev_cpu: int = 0) -> Tally:
    """tally_uniform() of records cut apart. A sample too short to say its CPU counts for the
    CPU of the one before it (or `prev_cpu`) without a sequence number; its decoder counts it malformed."""
    out: Dict[int, List[int]] = {}
    cpu, need = prev_cpu, max(cpu_at + 4, seq_at + 8)
    for raw in samples:
        if len(raw) < need:
            t = out.setdefault(cpu, [0, -1, -1])
            t[0] += 1
            continue
        cpu = _U32.unpack_from(raw, cpu_at)[0]
        seq = _U64.unpack_from(raw, seq_at)[0]
        t = out.get(cpu)
        if t is None:
            out[cpu] = [1, seq, seq]
        else:
            t[0] += 1
            t[2] = seq
            if t[1] < 0:
                t[1] = seq
    return {cpu: (n, first, last) for cpu, (n, first, last) in out.items()}


class SequenceGaps:
    """Per-CPU sequence gaps of records arriving in one ring, from each read's tally.

    A CPU's records keep their order in the ring (one CPU reserves them one after the
    other), so the numbers missing in a read are last + 1 - (the next expected) - records;
    a CPU's first record sets where it starts, as in the decoder.
    """

    def __init__(self) -> None:
        self.expect: Dict[int, int] = {}

    def add(self, tally: Tally) -> Dict[int, int]:
        """The read's gaps, by CPU (only CPUs with some)."""
        out: Dict[int, int] = {}
        for cpu, (n, first, last) in tally.items():
            if first < 0:  # only records too short to be numbered
                continue
            expect = self.expect.setdefault(cpu, first)
            gaps = last + 1 - expect - n
            if gaps > 0:
                out[cpu] = gaps
            self.expect[cpu] = max(expect, last + 1)
        return out


def merge_tallies(a: Tally, b: Tally) -> Tally:
    """The tally of a read's records `a` followed by its records `b`."""
    out = dict(a)
    for cpu, (n, first, last) in b.items():
        if cpu in out:
            n0, first0, last0 = out[cpu]
            out[cpu] = (n0 + n, first0 if first0 >= 0 else first, last if last >= 0 else last0)
        else:
            out[cpu] = (n, first, last)
    return out


# -- the kernel side, in memory: for tests ----------------------------------------------
class MemoryRingbuf:
    """A ring buffer laid out like the kernel's mappings, written the way bpf_ringbuf_output writes."""

    def __init__(self, data_size: int, page_size: int = 4096):
        self.page_size, self.data_size = page_size, data_size
        self.consumer = bytearray(page_size)
        self.data = bytearray(page_size + data_size)
        self.reader = RingbufReader(self.consumer, self.data, data_size, page_size)

    def positions(self) -> Tuple[int, int]:
        return _U64.unpack_from(self.consumer, 0)[0], _U64.unpack_from(self.data, 0)[0]

    def _put(self, pos: int, data: bytes) -> None:
        """Writes at ring position `pos` into the data area."""
        start = self.page_size
        for i in range(len(data)):  # byte-wise: the write may wrap
            self.data[start + (pos + i) % self.data_size] = data[i]

    def reserve(self, length: int) -> Tuple[int, bool]:
        """Reserves a record (BUSY) at producer_pos; returns (its position, whether it fit)."""
        cons, prod = self.positions()
        size = record_size(length)
        if prod + size - cons > self.data_size:
            return prod, False
        self._put(prod, _U32.pack(length | BUSY_BIT) + _U32.pack(0))
        _U64.pack_into(self.data, 0, prod + size)
        return prod, True

    def commit(self, pos: int, data: bytes, discard: bool = False) -> None:
        self._put(pos + HDR_SZ, data + b"\0" * (record_size(len(data)) - HDR_SZ - len(data)))
        self._put(pos, _U32.pack(len(data) | (DISCARD_BIT if discard else 0)))

    def output(self, data: bytes) -> bool:
        """bpf_ringbuf_output: reserve, copy, commit; False when the ring is full."""
        pos, ok = self.reserve(len(data))
        if ok:
            self.commit(pos, data)
        return ok


# -- the real ring buffer ------------------------------------------------------------------
class RingBuffer:
    """The records map's ring buffer, mapped: consumer page read-write, the rest read-only."""

    def __init__(self, map_fd: int, data_size: int):
        page = mmap.PAGESIZE
        self._maps: List[mmap.mmap] = []
        self._epoll = select.epoll()
        try:
            consumer = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            self._maps.append(consumer)
            data = mmap.mmap(map_fd, page + data_size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
            self._maps.append(data)
            self.reader = RingbufReader(consumer, data, data_size, page)
            # edge-triggered: a level-triggered poll returns at once while any record is unread,
            # so the consumer would take records a few at a time instead of sleeping until a
            # wake-up (BPF_RB_FORCE_WAKEUP every N records) or the timed drain
            self._epoll.register(map_fd, select.EPOLLIN | select.EPOLLET)
        except OSError as e:
            self.close()
            raise BpfauditError(f"mapping the BPF ring buffer failed: {os.strerror(e.errno or 0)}; "
                                "run as root on a kernel with BPF ring buffers (5.8+)") from None
        except BaseException:
            self.close()
            raise

    def wait(self, timeout_s: float) -> None:
        """Until BPF forces a wake-up, or the timeout."""
        epoll_wait(self._epoll, timeout_s)

    def close(self) -> None:
        reader = getattr(self, "reader", None)
        if reader is not None:
            reader.release()
        for mm in self._maps:
            mm.close()
        self._maps = []
        self._epoll.close()
