"""Turns ring samples into SyscallEvents, a batch at a time: checks each
sample's size, unpacks the header and the items of the whole event with
structs derived from bpf/record.h, replays kernel audit's names list into its
PATH records (names.py) and decides BPRM_FCAPS (fcaps.py), tracks per-CPU
sequence gaps, and finishes rule decisions BPF left to user space. Everything decoded was read by BPF at
the syscall: nothing is looked up in /proc or the filesystem here."""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import struct
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from tracer.capture.events import SyscallEvent
from tracer.capture.fcaps import Caps, bprm_fcaps
from tracer.capture.names import Obj, call_name, kernel_fixes_trailing_slash, path_items
from tracer.filters import KernelRule
from tracer.capture.layout import layout
from tracer.syscall_table import AUDIT_ARCH_I386, syscall_name

UserspaceDecider = Callable[[SyscallEvent, int], Optional[int]]

# ba_record's header members in header order, as _decode unpacks them.
# HeaderStruct derives the byte layout from bpf/record.h and refuses a header
# whose members differ from this list (the decoder's own mirror check).
HEADER_MEMBERS = (
    "seq", "enter_ns", "exit_ns", "exit", "args", "arch", "syscall", "pid", "tid", "ppid", "auid", "uid", "gid",
    "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses", "cpu", "per", "size", "rule", "flags", "n_items",
    "abi", "version", "comm", "tty",
)
ITEM_MEMBERS = ("kind", "flags", "len", "aux", "pad")
# the payloads of OBJ and CAPS items, unpacked in this order into names.Obj and fcaps.Caps
OBJ_MEMBERS = ("ino", "uptr", "dir_ino", "dev", "rdev", "uid", "gid", "dir_dev", "mode", "op", "flags", "name_len",
               "pad")
CAPS_MEMBERS = ("old_pp", "old_pi", "old_pe", "old_pa", "pp", "pi", "pe", "pa", "fp", "fi", "fmagic", "frootid",
                "has_fcap", "securebits", "old_uid", "old_gid")
# SyscallEvent's fields in declaration order: _decode builds events positionally (half the cost of keywords)
EVENT_FIELDS = (
    "time", "serial", "arch", "syscall", "syscall_name", "success", "exit", "args", "ppid", "pid", "tid", "auid",
    "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses", "tty", "comm", "exe", "key", "rule",
    "paths", "enter_ns", "exit_ns", "cpu", "seq", "per", "cwd", "proctitle", "argv", "argc", "sockaddr", "cut",
    "path_items", "bprm_fcaps",
)
_INT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
              (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}


class LayoutMismatch(Exception):
    """bpf/record.h's header no longer matches what the decoder unpacks."""


class HeaderStruct:
    """A struct.Struct over the first `size` bytes of a bpf/record.h struct, built from the parsed
    header: offsets and widths from the ctypes layout, padding members skipped, char arrays as
    bytes. `expect`: the member names the decoder unpacks, in order (checked)."""

    def __init__(self, rec_type, header_size: int, expect: Tuple[str, ...] = HEADER_MEMBERS):
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
            raise LayoutMismatch(f"{rec_type.__name__} members end at {pos}, expected {header_size} bytes")
        if tuple(members) != expect:
            raise LayoutMismatch(f"{rec_type.__name__} members {members} differ from the decoder's {list(expect)}")
        self.struct = struct.Struct("".join(fmt))
        self.members = tuple(members)


if tuple(f.name for f in dataclasses.fields(SyscallEvent)) != EVENT_FIELDS:
    raise LayoutMismatch("SyscallEvent's fields changed: update reader.EVENT_FIELDS and _decode")


def proctitle_rtrim(raw: bytes, setproctitle: bool = False) -> bytes:
    """What kernel audit logs of the bytes get_cmdline() gave: cut at the first NUL when
    setproctitle() overwrote the NUL at arg_end, then audit_proctitle_rtrim() (trailing
    unprintable bytes dropped)."""
    if setproctitle:
        raw = raw.split(b"\0", 1)[0]
    end = len(raw) - 1
    while end > 0 and not 0x20 <= raw[end] <= 0x7E:
        end -= 1
    n = end + 1
    if n > 0 and not 0x20 <= raw[n - 1] <= 0x7E:
        n -= 1
    return raw[:n]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def serial_base(now: Optional[float] = None) -> int:
    """The first serial of a run: the start time in milliseconds times 2**20. A run's serials
    then never reach a later run's (that would take over 10**9 events a second), so records of
    several runs appended to one log keep distinct ids, as auditd's `ausearch -a` expects."""
    return int((time.time() if now is None else now) * 1000) << 20


class RecordDecoder:
    """One instance per capture: holds the per-CPU sequence state and counters."""

    def __init__(self, rules: Sequence[KernelRule], decide: Optional[UserspaceDecider] = None,
                 slash_fix: Optional[bool] = None):
        """`slash_fix`: whether the kernel that made the records matches a child against a name with
        trailing slashes (names.dname_matches); None: the running kernel's behaviour."""
        L = layout()
        self._L = L
        self._hdr = L.BA_RECORD_HDR_SIZE
        self._header = HeaderStruct(L.structs["ba_record"], self._hdr)
        self._item = HeaderStruct(L.structs["ba_item"], ctypes.sizeof(L.structs["ba_item"]), ITEM_MEMBERS).struct
        self._obj = HeaderStruct(L.structs["ba_obj"], ctypes.sizeof(L.structs["ba_obj"]), OBJ_MEMBERS).struct
        self._caps = HeaderStruct(L.structs["ba_caps"], ctypes.sizeof(L.structs["ba_caps"]), CAPS_MEMBERS).struct
        self._slash_fix = kernel_fixes_trailing_slash() if slash_fix is None else slash_fix
        self._rules = list(rules)
        self._keys = tuple(r.key for r in self._rules)
        self._decide = decide
        self._next_seq: Dict[int, int] = {}
        self._mono_to_wall = time.time() - time.monotonic()
        self._serial = serial_base()
        # syscall names by (arch << 32 | nr); comm, tty, exe and cwd text by raw bytes: few distinct values
        self._names: Dict[int, str] = {}
        self._texts: Dict[bytes, str] = {}
        self._ttys: Dict[bytes, str] = {}
        self._titles: Dict[Tuple[bytes, int], bytes] = {}
        self._known: Dict[bytes, tuple] = {}  # item block -> its decoding
        self._kinds = (L.BA_ITEM_PATH, L.BA_ITEM_EXE, L.BA_ITEM_CWD, L.BA_ITEM_PROCTITLE, L.BA_ITEM_EXECVE,
                       L.BA_ITEM_SOCKADDR, L.BA_ITEM_FAULT, L.BA_ITEM_CUT, L.BA_ITEM_OBJ, L.BA_ITEM_CAPS)
        self.delivered = 0  # samples received from the ring(s)
        self.malformed = 0  # samples of an impossible size or content
        self.seq_gaps = 0  # records BPF numbered but the reader never saw
        self.userspace_filtered = 0  # candidates user-space rule evaluation rejected
        self.cut = 0  # events with an item cut at its cap or unreadable (BPF counts them too)

    def decode(self, cpu: int, raw: bytes) -> Optional[SyscallEvent]:
        """The event in `raw`, or None when it is malformed or user space filters it out."""
        out = self.decode_batch(cpu, (raw,))
        return out[0] if out else None

    def decode_batch(self, cpu: int, raws: Iterable[bytes]) -> List[SyscallEvent]:
        """The events in the samples `raws`, in order; malformed and user-space-filtered
        samples are counted and left out."""
        return self._decode(raws)

    def decode_uniform(self, cpu: int, chunk: bytes, stride: int, offset: int) -> List[SyscallEvent]:
        """decode_batch() of the samples laid out every `stride` bytes in `chunk`, each `stride - offset`
        bytes long from `offset` on (a ring's records, all of one size)."""
        return self._decode([chunk[i + offset : i + stride] for i in range(0, len(chunk), stride)])

    def _items(self, raw: bytes, size: int, n_items: int):
        """(paths, cwd, exe, proctitle, argv, argc, sockaddr, cut, n_items, slots, objs, caps) of an event's
        items (slots: the PATH items' aux; objs: the OBJ items as names.Obj; caps: the CAPS item as
        fcaps.Caps or None); None when malformed. Nothing in it is mutable but argv (a list a consumer
        could change: see _decode)."""
        unpack_item, item_size = self._item.unpack_from, self._item.size
        PATH, EXE, CWD, PROCTITLE, EXECVE, SOCKADDR, FAULT, CUT, OBJ, CAPS = self._kinds
        texts = self._texts
        paths: List[Optional[str]] = []
        slots: List[int] = []
        objs: List[Obj] = []
        caps = None
        cwd = exe = argv = sockaddr = proctitle = None
        argc = 0
        cut: List[str] = []
        off = self._hdr
        for _ in range(n_items):
            if off + item_size > size:
                return None
            kind, flags, length, aux = unpack_item(raw, off)
            start = off + item_size
            off = start + ((length + 7) & ~7)
            if start + length > size:
                return None
            payload = raw[start : start + length]
            if kind == EXE or kind == CWD:
                # the same few strings, event after event: decoded once
                text = None if flags & FAULT else texts.get(payload)
                if text is None and not flags & FAULT:
                    text = _remember(texts, payload, _text(payload))
                if kind == EXE:
                    exe, name = text, "exe"
                else:
                    cwd, name = text, "cwd"
            elif kind == PATH:
                if flags:
                    cut.append(f"path{len(paths)}")
                paths.append(None if flags & FAULT else _text(payload))
                slots.append(aux)
                continue
            elif kind == OBJ:
                obj_struct = self._obj
                if length < obj_struct.size:
                    return None
                (ino, uptr, dir_ino, dev, rdev, uid, gid, dir_dev, mode, op, oflags,
                 name_len) = obj_struct.unpack_from(payload)
                if obj_struct.size + name_len > length:
                    return None
                raw_name = payload[obj_struct.size : obj_struct.size + name_len]
                objs.append(Obj(op, oflags, ino, dev, mode, uid, gid, rdev, uptr, dir_ino, dir_dev,
                                _text(raw_name) if name_len else None))
                if flags and "objs" not in cut:  # a name cut at its cap
                    cut.append("objs")
                continue
            elif kind == CAPS:
                if length < self._caps.size:
                    return None
                caps = Caps(*self._caps.unpack_from(payload))
                continue
            elif kind == PROCTITLE:
                name = "proctitle"
                proctitle = self._titles.get((payload, aux))
                if proctitle is None:
                    proctitle = self._titles[(payload, aux)] = proctitle_rtrim(payload, bool(aux))
                    if len(self._titles) > 4096:
                        self._titles.clear()
            elif kind == EXECVE:
                name, argc = "argv", aux
                args = payload.split(b"\0")
                if args and args[-1] == b"" and not flags & CUT:
                    args.pop()  # the last argument's NUL
                argv = [_text(a) for a in args] if payload else []
            elif kind == SOCKADDR:
                name = "sockaddr"
                sockaddr = payload
            else:
                return None
            if flags:
                cut.append(name)
        return (tuple(paths), cwd, exe, proctitle, argv, argc, sockaddr, tuple(cut), n_items, tuple(slots),
                tuple(objs), caps)

    def _decode(self, raws: Iterable[bytes], account: bool = True) -> List[SyscallEvent]:
        """The decoding loop over raw samples. `account`: count them as delivered (and their
        malformed samples and sequence gaps); False for samples the compiled formatter counted
        already and handed back (tracer/formats/native.py)."""
        L = self._L
        hdr, limit = self._hdr, L.BA_EVENT_MAX + 8  # perf pads samples to 8 bytes
        version = L.BA_SCHEMA_VERSION
        unpack = self._header.struct.unpack_from
        userspace_check = L.BA_REC_USERSPACE_CHECK
        objs_cut = L.BA_REC_OBJS_CUT  # more objects than the record holds
        slash_fix = self._slash_fix
        i386 = AUDIT_ARCH_I386
        next_seq, names, texts, ttys, keys = self._next_seq if account else {}, self._names, self._texts, self._ttys, self._keys
        nkeys = len(keys)
        wall = self._mono_to_wall
        Event = SyscallEvent
        out: List[SyscallEvent] = []
        append = out.append
        decide = self._decide
        items, known = self._items, self._known
        delivered = malformed = gaps = cut_events = 0
        serial = self._serial
        # what the previous record had: a ring's records mostly repeat their CPU, process and syscall
        cur_cpu, expect = -1, 0
        last_arch = last_nr = -1
        last_comm_b = last_tty_b = None
        name = comm = tty = ""
        # Events hold no reference cycles, but the cyclic collector runs every few hundred
        # allocations and walks the growing batch again each time (measured: twice the decode
        # cost at 20,000 records per batch). Paused for the batch; reference counting still frees.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for raw in raws:
                delivered += 1
                if type(raw) is not bytes:  # a ring's read may hand out bytearrays: items key caches
                    raw = bytes(raw)
                n = len(raw)
                if n < hdr or n > limit:
                    malformed += 1
                    continue
                (seq, enter_ns, exit_ns, exit_code, a0, a1, a2, a3, a4, a5, arch, nr, pid, tid, ppid, auid, uid, gid,
                 euid, suid, fsuid, egid, sgid, fsgid, ses, rcpu, per, size, rule, flags, n_items, _abi, ver,
                 comm_b, tty_b) = unpack(raw)
                if rcpu != cur_cpu:
                    if cur_cpu >= 0:
                        next_seq[cur_cpu] = expect
                    cur_cpu, expect = rcpu, next_seq.get(rcpu, seq)  # a CPU's first record sets its start
                if seq > expect:
                    gaps += seq - expect
                expect = seq + 1
                # BPF submits only the bytes in use: every item must lie inside the sample
                if ver != version or not hdr <= size <= n:
                    malformed += 1
                    continue
                # a process's events mostly carry the same items (exe, proctitle, cwd, even names):
                # the decoding of a small item block is looked up, not redone
                body = raw[hdr:size]
                parts = known.get(body) if size - hdr <= 1024 else None
                if parts is None:
                    parts = items(raw, size, n_items)
                    if parts is None:
                        malformed += 1
                        continue
                    if size - hdr <= 1024:
                        if len(known) >= 4096:
                            known.clear()
                        known[body] = parts
                elif n_items != parts[8]:
                    malformed += 1
                    continue
                paths, cwd, exe, proctitle, argv, argc, sockaddr, cut, _n, slots, objs, caps = parts
                paths = list(paths)
                if argv is not None:
                    argv = list(argv)
                if flags & objs_cut and "objs" not in cut:
                    cut += ("objs",)
                if cut:
                    cut_events += 1

                if nr != last_nr or arch != last_arch:
                    last_nr, last_arch = nr, arch
                    name = names.get((arch << 32) | nr)
                    if name is None:
                        name = names[(arch << 32) | nr] = syscall_name(arch, nr)
                if comm_b != last_comm_b:
                    last_comm_b = comm_b
                    comm = texts.get(comm_b)
                    if comm is None:
                        comm = _remember(texts, comm_b, _text(_c_string(comm_b)))
                if tty_b != last_tty_b:
                    last_tty_b = tty_b
                    tty = ttys.get(tty_b)
                    if tty is None:
                        tty = _remember(ttys, tty_b, _c_string(tty_b).decode("ascii", "replace") or "(none)")
                args = [a0, a1, a2, a3, a4, a5]
                # kernel audit's PATH records: its names list replayed (tracer/capture/names.py)
                named = path_items(call_name(name), args, paths, slots, objs, cwd, arch == i386,
                                   slash_fix) if paths or objs else []
                serial += 1
                event = Event(enter_ns / 1e9 + wall, serial, arch, nr, name, not (-4095 <= exit_code < 0), exit_code,
                              args, ppid, pid, tid, auid, uid, gid, euid, suid, fsuid, egid,
                              sgid, fsgid, ses, tty, comm, exe, keys[rule] if rule < nkeys else None, rule, paths,
                              enter_ns, exit_ns, rcpu, seq, per, cwd, proctitle, argv, argc, sockaddr, cut, named,
                              None if caps is None else bprm_fcaps(caps, uid, euid))
                if flags & userspace_check and decide is not None:
                    decided = decide(event, rule)
                    if decided is None:
                        self.userspace_filtered += 1
                        continue
                    event.rule = decided
                    event.key = keys[decided] if 0 <= decided < nkeys else None
                append(event)
        finally:
            if collecting:
                gc.enable()
            if cur_cpu >= 0:
                next_seq[cur_cpu] = expect
            if account:
                self.delivered += delivered
                self.malformed += malformed
                self.seq_gaps += gaps
            self.cut += cut_events
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
