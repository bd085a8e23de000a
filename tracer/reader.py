"""Turns perf-buffer samples into SyscallEvents, a batch at a time: checks each
sample's size, unpacks it with a struct derived from the header, tracks per-CPU
sequence gaps, finishes rule decisions BPF left to user space, and resolves exe."""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import os
import struct
import time
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from tracer.events import SyscallEvent
from tracer.filters import KernelRule
from tracer.layout import layout
from tracer.syscall_table import syscall_name

UserspaceDecider = Callable[[SyscallEvent, int], Optional[int]]


class ExeCache:
    """pid -> executable path from /proc, bounded; execve invalidates its pid."""

    def __init__(self, size: int = 4096):
        self._size = size
        self._cache: "OrderedDict[int, Optional[str]]" = OrderedDict()

    def get(self, pid: int) -> Optional[str]:
        if pid in self._cache:
            self._cache.move_to_end(pid)
            return self._cache[pid]
        try:
            exe: Optional[str] = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            exe = None  # gone already, or a kernel thread
        self._cache[pid] = exe
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return exe

    def forget(self, pid: int) -> None:
        self._cache.pop(pid, None)

    def learn_exec(self, pid: int, path: str) -> Optional[str]:
        """After a successful execve of `path` by `pid`: the process's new exe.

        /proc/PID/exe while the process lives; once it is gone (short-lived
        commands usually are by the time their record is read), the file the
        kernel ran: the path resolved, or a script's interpreter.
        """
        self.forget(pid)
        exe = self.get(pid)
        if exe is None and path.startswith("/"):
            exe = _image_of(path)
            self._cache[pid] = exe
        return exe


def _image_of(path: str) -> Optional[str]:
    """The executable the kernel runs for `path`: the file itself, or its #! interpreter."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return None
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].split()
        if not words or not words[0].startswith(b"/"):
            return None
        return os.path.realpath(words[0].decode("utf-8", "surrogateescape"))
    return os.path.realpath(path)


# ba_record's header members in header order, as decode_batch unpacks them.
# HeaderStruct derives the byte layout from bpf/record.h and refuses a header
# whose members differ from this list (the decoder's own mirror check).
HEADER_MEMBERS = (
    "seq", "enter_ns", "exit_ns", "exit", "args", "arch", "syscall", "pid", "tid", "ppid", "auid", "uid", "gid",
    "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses", "cpu", "rule", "flags", "path_len", "n_paths", "abi",
    "pad", "comm", "tty",
)
# SyscallEvent's fields in declaration order: decode_batch builds events positionally (half the cost of keywords)
EVENT_FIELDS = (
    "time", "serial", "arch", "syscall", "syscall_name", "success", "exit", "args", "ppid", "pid", "tid", "auid",
    "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses", "tty", "comm", "exe", "key", "rule",
    "paths", "enter_ns", "exit_ns", "cpu", "seq",
)
_INT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
              (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}


class LayoutMismatch(Exception):
    """bpf/record.h's header no longer matches what the decoder unpacks."""


class HeaderStruct:
    """A struct.Struct over the fixed header of ba_record, built from the parsed header:
    offsets and widths from the ctypes layout, padding members skipped, char arrays as bytes."""

    def __init__(self, rec_type, header_size: int):
        fmt, pos, members = ["<"], 0, []
        for name, ctype in rec_type._fields_:
            off = getattr(rec_type, name).offset
            if off >= header_size:
                break
            if off > pos:
                fmt.append(f"{off - pos}x")
            size = ctypes.sizeof(ctype)
            members.append(name)
            if name.startswith("pad"):
                fmt.append(f"{size}x")
            elif getattr(ctype, "_type_", None) is ctypes.c_char:
                fmt.append(f"{ctype._length_}s")
            else:
                elem = ctype._type_ if hasattr(ctype, "_length_") else ctype
                count = getattr(ctype, "_length_", 1)
                signed = elem(-1).value < 0
                fmt.append(f"{count}{_INT_CODES[ctypes.sizeof(elem), signed]}")
            pos = off + size
        if pos != header_size:
            raise LayoutMismatch(f"ba_record members end at {pos}, BA_RECORD_HDR_SIZE is {header_size}")
        if tuple(members) != HEADER_MEMBERS:
            raise LayoutMismatch(f"ba_record header members {members} differ from the decoder's {list(HEADER_MEMBERS)}")
        self.struct = struct.Struct("".join(fmt))
        self.members = tuple(members)


if tuple(f.name for f in dataclasses.fields(SyscallEvent)) != EVENT_FIELDS:
    raise LayoutMismatch("SyscallEvent's fields changed: update reader.EVENT_FIELDS and decode_batch")


class RecordDecoder:
    """One instance per capture: holds the per-CPU sequence state and counters."""

    def __init__(self, rules: Sequence[KernelRule], decide: Optional[UserspaceDecider] = None):
        L = layout()
        self._L = L
        rec_type = L.structs["ba_record"]
        self._full = ctypes.sizeof(rec_type)
        self._hdr = L.BA_RECORD_HDR_SIZE
        self._header = HeaderStruct(rec_type, self._hdr)
        self._n_paths_off = rec_type.n_paths.offset
        self._uniform: Dict[Tuple[int, int], struct.Struct] = {}  # (stride, offset) -> samples' headers
        self._path_off = rec_type.path.offset
        self._rules = list(rules)
        self._keys = tuple(r.key for r in self._rules)
        self._decide = decide
        self._exe = ExeCache()
        self._next_seq: Dict[int, int] = {}
        self._mono_to_wall = time.time() - time.monotonic()
        self._serial = 0
        self._exec_names = frozenset({"execve", "execveat"})
        # syscall names by (arch << 32 | nr), comm and tty text by raw bytes: few distinct values per run
        self._names: Dict[int, str] = {}
        self._comms: Dict[bytes, str] = {}
        self._ttys: Dict[bytes, str] = {}
        self.delivered = 0  # samples received from the perf buffer
        self.malformed = 0  # samples of an impossible size or content
        self.seq_gaps = 0  # records BPF numbered but the reader never saw
        self.userspace_filtered = 0  # candidates user-space rule evaluation rejected

    def decode(self, cpu: int, raw: bytes) -> Optional[SyscallEvent]:
        """The event in `raw`, or None when it is malformed or user space filters it out."""
        out = self.decode_batch(cpu, (raw,))
        return out[0] if out else None

    def decode_batch(self, cpu: int, raws: Iterable[bytes]) -> List[SyscallEvent]:
        """The events in the samples `raws` of perf ring `cpu`, in order; malformed and
        user-space-filtered samples are counted and left out."""
        return self._decode(raws, None, 0)

    def decode_uniform(self, cpu: int, chunk: bytes, stride: int, offset: int) -> List[SyscallEvent]:
        """decode_batch() of the samples laid out every `stride` bytes in `chunk`, each `stride - offset`
        bytes long from `offset` on (a perf ring's records, all samples of one size).

        Samples without paths (checked on the n_paths byte of every sample at once) are
        unpacked together by one struct.iter_unpack, without a Python step per sample to
        find or cut them; otherwise they are cut and decoded one by one.
        """
        n, size = len(chunk) // stride, stride - offset
        if len(chunk) % stride or not self._hdr <= size <= self._full + 8:
            return self.decode_batch(cpu, [chunk[i + offset : i + stride] for i in range(0, len(chunk), stride)])
        if chunk[offset + self._n_paths_off :: stride] != bytes(n):
            return self.decode_batch(cpu, [chunk[i + offset : i + stride] for i in range(0, len(chunk), stride)])
        layout_ = self._uniform.get((stride, offset))
        if layout_ is None:
            fmt = self._header.struct.format.lstrip("<")
            layout_ = self._uniform[(stride, offset)] = struct.Struct(f"<{offset}x{fmt}{size - self._hdr}x")
        return self._decode(layout_.iter_unpack(chunk), size, n)

    def _decode(self, items, uniform_size: Optional[int], count: int) -> List[SyscallEvent]:
        """The decoding loop: `items` are raw samples, or (uniform_size set) their unpacked headers."""
        L = self._L
        hdr, limit = self._hdr, self._full + 8  # perf pads samples to 8 bytes
        unpack = self._header.struct.unpack_from
        path_off, path_slot, max_paths = self._path_off, L.BA_PATH_LEN, L.BA_MAX_PATHS
        userspace_check = L.BA_REC_USERSPACE_CHECK
        next_seq, names, comms, ttys, keys = self._next_seq, self._names, self._comms, self._ttys, self._keys
        nkeys = len(keys)
        exe_cache, exec_names, wall = self._exe, self._exec_names, self._mono_to_wall
        exe_get = exe_cache.get
        Event = SyscallEvent
        out: List[SyscallEvent] = []
        append = out.append
        decide = self._decide
        delivered = malformed = gaps = 0
        serial = self._serial
        # what the previous record had: a ring's records mostly repeat their CPU, process and syscall
        cur_cpu, expect = -1, 0
        last_pid, last_exe = -1, None
        last_arch = last_nr = -1
        last_comm_b = last_tty_b = None
        name = comm = tty = ""
        # Events hold no reference cycles, but the cyclic collector runs every few hundred
        # allocations and walks the growing batch again each time (measured: twice the decode
        # cost at 20,000 records per batch). Paused for the batch; reference counting still frees.
        collecting = gc.isenabled()
        gc.disable()
        raw, size = b"", uniform_size
        try:
            for item in items:
                if uniform_size is None:
                    raw = item
                    delivered += 1
                    size = len(raw)
                    if size < hdr or size > limit:
                        malformed += 1
                        continue
                    item = unpack(raw)
                (seq, enter_ns, exit_ns, exit_code, a0, a1, a2, a3, a4, a5, arch, nr, pid, tid, ppid, auid, uid, gid,
                 euid, suid, fsuid, egid, sgid, fsgid, ses, rcpu, rule, flags, plen0, plen1, n_paths, _abi,
                 comm_b, tty_b) = item
                if rcpu != cur_cpu:
                    if cur_cpu >= 0:
                        next_seq[cur_cpu] = expect
                    cur_cpu, expect = rcpu, next_seq.get(rcpu, seq)  # a CPU's first record sets its start
                if seq > expect:
                    gaps += seq - expect
                expect = seq + 1

                # BPF submits only the path bytes in use: take a path only if the sample holds it
                paths = []
                if n_paths:
                    for i, n in enumerate((plen0, plen1)[: min(n_paths, max_paths)]):
                        n = min(n, path_slot)
                        start = path_off + i * path_slot
                        if start + n > size:
                            malformed += 1
                            break
                        paths.append(raw[start : start + max(n - 1, 0)].decode("utf-8", "surrogateescape"))

                if nr != last_nr or arch != last_arch:
                    last_nr, last_arch = nr, arch
                    name = names.get((arch << 32) | nr)
                    if name is None:
                        name = names[(arch << 32) | nr] = syscall_name(arch, nr)
                if comm_b != last_comm_b:
                    last_comm_b = comm_b
                    comm = comms.get(comm_b)
                    if comm is None:
                        comm = _remember(comms, comm_b, _c_string(comm_b).decode("utf-8", "surrogateescape"))
                if tty_b != last_tty_b:
                    last_tty_b = tty_b
                    tty = ttys.get(tty_b)
                    if tty is None:
                        tty = _remember(ttys, tty_b, _c_string(tty_b).decode("ascii", "replace") or "(none)")
                success = not (-4095 <= exit_code < 0)
                if name in exec_names and success:
                    exe = exe_cache.learn_exec(pid, paths[0] if paths else "")
                    last_pid, last_exe = pid, exe
                elif pid == last_pid:
                    exe = last_exe
                else:
                    exe = exe_get(pid)
                    last_pid, last_exe = pid, exe
                serial += 1
                event = Event(exit_ns / 1e9 + wall, serial, arch, nr, name, success, exit_code,
                              [a0, a1, a2, a3, a4, a5], ppid, pid, tid, auid, uid, gid, euid, suid, fsuid, egid,
                              sgid, fsgid, ses, tty, comm, exe, keys[rule] if rule < nkeys else None, rule, paths,
                              enter_ns, exit_ns, rcpu, seq)
                if flags & userspace_check and decide is not None:
                    decided = decide(event, rule)
                    if decided is None:
                        self.userspace_filtered += 1
                        continue
                    event.rule = decided
                    event.key = keys[decided] if 0 <= decided < nkeys else None
                append(event)
        finally:
            if uniform_size is not None:  # every sample of a uniform chunk is taken, decoded or not
                delivered = count
            if collecting:
                gc.enable()
            if cur_cpu >= 0:
                next_seq[cur_cpu] = expect
            self.delivered += delivered
            self.malformed += malformed
            self.seq_gaps += gaps
            self._serial = serial
        return out


def _c_string(raw: bytes) -> bytes:
    """A char array up to its first NUL (what ctypes' .value reads)."""
    return raw.split(b"\0", 1)[0]


def _remember(cache: Dict[bytes, str], raw: bytes, text: str) -> str:
    if len(cache) >= 4096:  # a flood of distinct comms must not grow the cache without bound
        cache.clear()
    cache[raw] = text
    return text
