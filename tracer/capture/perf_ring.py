"""The perf buffer read directly: per-CPU PERF_COUNT_SW_BPF_OUTPUT events opened and
mapped here, their rings walked a whole batch at a time (no per-record callback).

Layouts and constants are the kernel's UAPI (linux/perf_event.h): the
metadata page's data_head/data_tail, and the records a BPF output event
writes: PERF_RECORD_SAMPLE carrying PERF_SAMPLE_RAW, PERF_RECORD_LOST.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import select
import struct
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Tuple

from tracer.errors import BpfauditError

# linux/perf_event.h
PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_SAMPLE_RAW = 1 << 10
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_EVENT_IOC_ENABLE = 0x2400  # _IO('$', 0)
PERF_EVENT_IOC_DISABLE = 0x2401  # _IO('$', 1)
PERF_RECORD_LOST = 2
PERF_RECORD_SAMPLE = 9
META_DATA_HEAD = 1024  # offsetof(struct perf_event_mmap_page, data_head): the page is padded to 1 KiB
META_DATA_TAIL = 1032
META_DATA_OFFSET = 1040
META_DATA_SIZE = 1048
NR_PERF_EVENT_OPEN_X86_64 = 298

# struct perf_event_header (u32 type, u16 misc, u16 size), then the first u32 of the body:
# a sample's raw size, or the low half of a LOST record's id (not used)
_RECORD_START = struct.Struct("<IHHI")
_LOST_COUNT = struct.Struct("<Q")  # struct { header; u64 id; u64 lost; }: lost at offset 16


class PerfEventAttr(ctypes.Structure):
    """struct perf_event_attr as published first (PERF_ATTR_SIZE_VER0, 64 bytes): all a BPF output event needs."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64),
        ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),  # bit fields: disabled, inherit, ... none needed
        ("wakeup_events", ctypes.c_uint32),
        ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64),
    ]


SAMPLE_DATA_OFFSET = 12  # a PERF_RECORD_SAMPLE's raw data follows its header and u32 size


@dataclass
class RingBatch:
    """What one read of a ring found: raw sample bytes in order, and the LOST records' count.

    When every record read was a sample of one size (the common case: a ring of
    header-only records), `samples` stays empty and the records are left as they
    lie in `chunk`, one every `stride` bytes, for a decoder to unpack together.
    """

    samples: List[bytes] = field(default_factory=list)
    lost: int = 0
    corrupt: bool = False  # a record header that cannot be right: the rest of the read was skipped
    chunk: bytes = b""
    stride: int = 0

    @property
    def count(self) -> int:
        return len(self.chunk) // self.stride if self.stride else len(self.samples)

    def raw_samples(self) -> List[bytes]:
        if not self.stride:
            return self.samples
        return [self.chunk[i + SAMPLE_DATA_OFFSET : i + self.stride] for i in range(0, len(self.chunk), self.stride)]


def uniform_stride(chunk: bytes) -> int:
    """The record size when `chunk` holds only PERF_RECORD_SAMPLEs of one size, else 0.

    Checked a byte column at a time (every stride-th byte, a C-speed slice), so a
    uniform chunk costs no Python step per record.
    """
    if len(chunk) < SAMPLE_DATA_OFFSET:
        return 0
    rtype, _misc, rsize, raw_size = _RECORD_START.unpack_from(chunk, 0)
    if rtype != PERF_RECORD_SAMPLE or rsize < 16 or rsize & 7 or raw_size != rsize - SAMPLE_DATA_OFFSET \
            or len(chunk) % rsize:
        return 0
    n = len(chunk) // rsize
    for col in (0, 1, 2, 3, 6, 7, 8, 9, 10, 11):  # type, size and raw size; misc may differ
        if chunk[col::rsize] != chunk[col : col + 1] * n:
            return 0
    return rsize


def parse_records(chunk: bytes) -> Tuple[List[bytes], int, int, bool]:
    """Walks perf records laid out contiguously in `chunk`.

    Returns (raw samples, lost count, bytes used, corrupt). A record cut off by
    the end of `chunk` is left unused for the next read; a header whose size
    is impossible marks the chunk corrupt and uses it all (nothing after it
    can be found).
    """
    samples: List[bytes] = []
    append = samples.append
    unpack = _RECORD_START.unpack_from
    lost = 0
    off, n = 0, len(chunk)
    while off + 8 <= n:
        if off + 12 <= n:
            rtype, _misc, rsize, raw_size = unpack(chunk, off)
        else:  # only a header fits: at most a record without a body
            rtype, _misc, rsize = struct.unpack_from("<IHH", chunk, off)
            raw_size = 0
        if rsize < 8 or rsize & 7:
            return samples, lost, n, True
        if off + rsize > n:
            break
        if rtype == PERF_RECORD_SAMPLE:
            if 12 + raw_size > rsize:
                return samples, lost, n, True
            append(chunk[off + 12 : off + 12 + raw_size])
        elif rtype == PERF_RECORD_LOST:
            lost += _LOST_COUNT.unpack_from(chunk, off + 16)[0]
        off += rsize
    return samples, lost, off, False


class RingReader:
    """Reads one mapped perf ring: metadata page, then a power-of-two data area.

    `buf` is the mapping (or any writable buffer laid out the same way).
    Only the kernel moves data_head and only we move data_tail; on x86 loads
    are not reordered with loads, nor stores with earlier loads, so plain
    reads of data_head before the data and a plain store of data_tail after
    copying it are enough (the barriers the UAPI asks for are no-ops there).
    """

    def __init__(self, buf, page_size: int = mmap.PAGESIZE):
        self.buf = buf
        self._head = ctypes.c_uint64.from_buffer(buf, META_DATA_HEAD)
        self._tail = ctypes.c_uint64.from_buffer(buf, META_DATA_TAIL)
        offset = ctypes.c_uint64.from_buffer(buf, META_DATA_OFFSET).value
        size = ctypes.c_uint64.from_buffer(buf, META_DATA_SIZE).value
        # kernels before 4.1 leave data_offset/data_size at 0: the data follows the first page
        self.data_offset = offset or page_size
        self.data_size = size or len(buf) - page_size
        if self.data_size & (self.data_size - 1):
            raise ValueError(f"perf ring data size {self.data_size} is not a power of two")
        self.corrupt = 0  # reads that met an impossible record header

    def pending(self) -> int:
        """Bytes written and not read yet."""
        return self._head.value - self._tail.value

    def read(self) -> RingBatch:
        """Everything complete in the ring now, in one copy; the space is handed back to the kernel."""
        head = self._head.value
        tail = self._tail.value
        if head == tail:
            return RingBatch()
        size, base = self.data_size, self.data_offset
        begin = tail & (size - 1)
        end = begin + (head - tail)
        if end <= size:
            chunk = self.buf[base + begin : base + end]
        else:  # the unread bytes wrap past the end of the data area
            chunk = self.buf[base + begin : base + size] + self.buf[base : base + end - size]
        stride = uniform_stride(chunk)
        if stride:
            self._tail.value = head
            return RingBatch(chunk=chunk, stride=stride)
        samples, lost, used, corrupt = parse_records(chunk)
        if corrupt:
            self.corrupt += 1
        self._tail.value = tail + used
        return RingBatch(samples, lost, corrupt)

    def release(self) -> None:
        """Drops the views into the buffer (a mapping cannot close while they exist)."""
        self._head = self._tail = None


# -- the kernel side, in memory: for tests and scripts/consumer_cost.py -----------
def sample_record(raw: bytes) -> bytes:
    """A PERF_RECORD_SAMPLE as the kernel writes a BPF output sample: raw data padded so u32 size + data is 8-aligned."""
    data = raw + b"\0" * (-(len(raw) + 4) % 8)
    return _RECORD_START.pack(PERF_RECORD_SAMPLE, 0, 12 + len(data), len(data)) + data


def lost_record(count: int, event_id: int = 0) -> bytes:
    return struct.pack("<IHHQQ", PERF_RECORD_LOST, 0, 24, event_id, count)


class MemoryRing:
    """A ring laid out like the kernel's mapping, written the way the kernel writes it."""

    def __init__(self, data_size: int, page_size: int = 4096):
        self.page_size, self.data_size = page_size, data_size
        self.buf = bytearray(page_size + data_size)
        struct.pack_into("<QQ", self.buf, META_DATA_OFFSET, page_size, data_size)
        self.reader = RingReader(self.buf, page_size)

    def head(self) -> int:
        return struct.unpack_from("<Q", self.buf, META_DATA_HEAD)[0]

    def write(self, data: bytes, publish: bool = True) -> bool:
        """Appends record bytes at data_head (wrapping); False when they do not fit, as perf_output_begin fails."""
        head, tail = self.head(), struct.unpack_from("<Q", self.buf, META_DATA_TAIL)[0]
        if head + len(data) - tail > self.data_size:
            return False
        pos, base = head % self.data_size, self.page_size
        first = min(len(data), self.data_size - pos)
        self.buf[base + pos : base + pos + first] = data[:first]
        self.buf[base : base + len(data) - first] = data[first:]
        if publish:
            struct.pack_into("<Q", self.buf, META_DATA_HEAD, head + len(data))
        return True

    def write_samples(self, raws: Iterable[bytes]) -> int:
        """Writes samples until the ring is full; returns how many fit."""
        n = 0
        for raw in raws:
            if not self.write(sample_record(raw)):
                break
            n += 1
        return n

    def reset(self) -> None:
        struct.pack_into("<QQ", self.buf, META_DATA_HEAD, 0, 0)


# -- the real rings ------------------------------------------------------------------
def epoll_wait(epoll, timeout_s: float) -> None:
    """Waits for a wake-up or the timeout; a signal only ends the wait early."""
    try:
        epoll.poll(timeout_s)
    except InterruptedError:
        pass


def online_cpus(path: str = "/sys/devices/system/cpu/online") -> List[int]:
    """CPU numbers from a kernel CPU list ("0-3,5")."""
    with open(path) as f:
        text = f.read().strip()
    cpus: List[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        cpus.extend(range(int(lo), int(hi or lo) + 1))
    return cpus


_libc = ctypes.CDLL(None, use_errno=True)


def perf_event_open_bpf_output(cpu: int, wakeup_events: int) -> int:
    """An fd of a BPF output event on `cpu` (what bpf_perf_event_output writes into)."""
    attr = PerfEventAttr()
    attr.type = PERF_TYPE_SOFTWARE
    attr.size = ctypes.sizeof(PerfEventAttr)
    attr.config = PERF_COUNT_SW_BPF_OUTPUT
    attr.sample_period = 1
    attr.sample_type = PERF_SAMPLE_RAW
    attr.wakeup_events = max(1, wakeup_events)
    fd = _libc.syscall(NR_PERF_EVENT_OPEN_X86_64, ctypes.byref(attr), -1, cpu, -1, PERF_FLAG_FD_CLOEXEC)
    if fd < 0:
        err = ctypes.get_errno()
        raise BpfauditError(f"perf_event_open (BPF output event, CPU {cpu}) failed: {os.strerror(err)}; "
                            "run as root (CAP_PERFMON or CAP_SYS_ADMIN)")
    return fd


class PerfRings:
    """One mapped BPF output ring per online CPU, registered in a BPF_PERF_OUTPUT map."""

    def __init__(self, events_map, page_cnt: int, wakeup_events: int):
        if page_cnt <= 0 or page_cnt & (page_cnt - 1):
            raise BpfauditError(f"perf buffer size {page_cnt} pages is not a power of two")
        self.rings: Dict[int, RingReader] = {}
        self._maps: List[mmap.mmap] = []
        self._fds: List[int] = []
        self._epoll = select.epoll()
        try:
            for cpu in online_cpus():
                fd = perf_event_open_bpf_output(cpu, wakeup_events)
                self._fds.append(fd)
                mm = mmap.mmap(fd, (page_cnt + 1) * mmap.PAGESIZE, mmap.MAP_SHARED,
                               mmap.PROT_READ | mmap.PROT_WRITE)
                self._maps.append(mm)
                self.rings[cpu] = RingReader(mm)
                fcntl.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)
                events_map[events_map.Key(cpu)] = events_map.Leaf(fd)
                self._epoll.register(fd, select.EPOLLIN)
        except BaseException:
            self.close()
            raise

    def wait(self, timeout_s: float) -> None:
        """Until a ring has passed its wake-up count, or the timeout."""
        epoll_wait(self._epoll, timeout_s)

    def close(self) -> None:
        """Unmaps and closes the rings. The map's entries keep the events alive until
        the map goes (with the program); nothing writes to them once detached."""
        for ring in self.rings.values():
            ring.release()
        self.rings = {}
        for mm in self._maps:
            mm.close()
        self._maps = []
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        self._epoll.close()
