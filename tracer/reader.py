"""Turns perf-buffer samples into SyscallEvents: checks each sample's size,
decodes it with the header-derived layout, tracks per-CPU sequence gaps,
finishes rule decisions BPF left to user space, and resolves exe."""

from __future__ import annotations

import ctypes
import os
import time
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence

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


class RecordDecoder:
    """One instance per capture: holds the per-CPU sequence state and counters."""

    def __init__(self, rules: Sequence[KernelRule], decide: Optional[UserspaceDecider] = None):
        L = layout()
        self._L = L
        self._rec_type = L.structs["ba_record"]
        self._full = ctypes.sizeof(self._rec_type)
        self._hdr = L.BA_RECORD_HDR_SIZE
        self._path_off = self._rec_type.path.offset
        self._rules = list(rules)
        self._decide = decide
        self._exe = ExeCache()
        self._next_seq: Dict[int, int] = {}
        self._mono_to_wall = time.time() - time.monotonic()
        self._serial = 0
        self._exec_names = {"execve", "execveat"}
        self.delivered = 0  # samples received from the perf buffer
        self.malformed = 0  # samples of an impossible size or content
        self.seq_gaps = 0  # records BPF numbered but the reader never saw
        self.userspace_filtered = 0  # candidates user-space rule evaluation rejected

    def decode(self, cpu: int, raw: bytes) -> Optional[SyscallEvent]:
        """The event in `raw`, or None when it is malformed or user space filters it out."""
        self.delivered += 1
        size = len(raw)
        if size < self._hdr or size > self._full + 8:  # perf pads samples to 8 bytes
            self.malformed += 1
            return None
        rec = self._rec_type.from_buffer_copy(raw[: self._full].ljust(self._full, b"\0"))
        expect = self._next_seq.get(rec.cpu)
        if expect is not None and rec.seq > expect:
            self.seq_gaps += rec.seq - expect
        self._next_seq[rec.cpu] = rec.seq + 1

        # BPF submits only the path bytes in use: take a path only if the sample holds it
        paths = []
        for i in range(min(rec.n_paths, self._L.BA_MAX_PATHS)):
            n = min(rec.path_len[i], self._L.BA_PATH_LEN)
            start = self._path_off + i * self._L.BA_PATH_LEN
            if start + n > size:
                self.malformed += 1
                break
            paths.append(raw[start : start + max(n - 1, 0)].decode("utf-8", "surrogateescape"))
        rule = rec.rule
        if rec.flags & self._L.BA_REC_USERSPACE_CHECK:
            event = self._event(rec, paths, rule)
            if self._decide is None:
                return event
            decided = self._decide(event, rule)
            if decided is None:
                self.userspace_filtered += 1
                return None
            event.rule = decided
            event.key = self._key(decided)
            return event
        return self._event(rec, paths, rule)

    def _key(self, rule: int) -> Optional[str]:
        return self._rules[rule].key if 0 <= rule < len(self._rules) else None

    def _event(self, rec, paths: List[str], rule: int) -> SyscallEvent:
        name = syscall_name(rec.arch, rec.syscall)
        exit_code = rec.exit
        success = not (-4095 <= exit_code < 0)
        if name in self._exec_names and success:
            exe = self._exe.learn_exec(rec.pid, paths[0] if paths else "")
        else:
            exe = self._exe.get(rec.pid)
        self._serial += 1
        return SyscallEvent(
            time=(rec.exit_ns / 1e9) + self._mono_to_wall,
            serial=self._serial,
            arch=rec.arch,
            syscall=rec.syscall,
            syscall_name=name,
            success=success,
            exit=exit_code,
            args=list(rec.args),
            ppid=rec.ppid, pid=rec.pid, tid=rec.tid,
            auid=rec.auid, uid=rec.uid, gid=rec.gid, euid=rec.euid, suid=rec.suid,
            fsuid=rec.fsuid, egid=rec.egid, sgid=rec.sgid, fsgid=rec.fsgid, ses=rec.ses,
            tty=rec.tty.decode("ascii", "replace") or "(none)",
            comm=rec.comm.decode("utf-8", "surrogateescape"),
            exe=exe,
            key=self._key(rule),
            rule=rule,
            paths=paths,
            enter_ns=rec.enter_ns,
            exit_ns=rec.exit_ns,
            cpu=rec.cpu,
            seq=rec.seq,
        )
