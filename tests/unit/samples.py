"""Builds raw event samples as the BPF programs submit them (bpf/record.h): the header,
then each item's header and payload padded to 8 bytes, `size` bytes in all. Shared by the
decoder and capture-session tests."""

from __future__ import annotations

import ctypes
import os
from typing import Iterable, Optional, Sequence, Tuple, Union

from tracer.capture.layout import layout
from tracer.syscall_table import AUDIT_ARCH_X86_64, syscall_number

L = layout()
Record = L.structs["ba_record"]
Item = L.structs["ba_item"]
HDR = L.BA_RECORD_HDR_SIZE
OPENAT = syscall_number("x86_64", "openat")
EXECVE = syscall_number("x86_64", "execve")
IDS = ("ppid", "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses")

ItemSpec = Tuple[int, bytes, int, int]  # (kind, payload, flags, aux)


def item(kind: Union[int, str], payload: Union[bytes, str] = b"", flags: int = 0, aux: int = 0) -> ItemSpec:
    """One item; `kind` a BA_ITEM_* value or its name ("PATH", "EXE", ...)."""
    if isinstance(kind, str):
        kind = L.consts[f"BA_ITEM_{kind}"]
    raw = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload
    return kind, raw, flags, aux


def pack_items(items: Iterable[ItemSpec]) -> bytes:
    out = b""
    for kind, payload, flags, aux in items:
        it = Item()
        it.kind, it.flags, it.len, it.aux = kind, flags, len(payload), aux
        out += bytes(it) + payload + b"\0" * (-len(payload) % 8)
    return out


def header(seq=1, cpu=0, syscall=OPENAT, arch=AUDIT_ARCH_X86_64, exit=3, pid=None, rule=0, flags=0,
           **kw) -> Record:
    r = Record()
    r.seq, r.cpu, r.arch, r.syscall, r.exit, r.rule, r.flags = seq, cpu, arch, syscall, exit, rule, flags
    r.pid = os.getpid() if pid is None else pid
    r.tid = r.pid + 1
    r.enter_ns, r.exit_ns = 5_000_000_000, 5_000_123_456
    r.version = L.BA_SCHEMA_VERSION
    for i in range(L.BA_NARGS):
        r.args[i] = 0xFFFFFFFFFFFFFF00 + i
    for i, name in enumerate(IDS):
        setattr(r, name, 100 + i)
    r.comm, r.tty = b"cat", b"pts3"
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def sample(items: Sequence[ItemSpec] = (), paths: Sequence[Union[str, bytes, None]] = (),
           exe: Optional[str] = "/usr/bin/cat", size: Optional[int] = None, n_items: Optional[int] = None,
           **kw) -> bytes:
    """A whole event: PATH items for `paths` (None: unreadable), then `items`, then EXE (unless None).
    `size`/`n_items` override what the header says (for malformed samples)."""
    specs = [item("PATH", b"" if p is None else p, L.BA_ITEM_FAULT if p is None else 0, i)
             for i, p in enumerate(paths)]
    specs += list(items)
    if exe is not None:
        specs.append(item("EXE", exe))
    body = pack_items(specs)
    r = header(**kw)
    r.size = HDR + len(body) if size is None else size
    r.n_items = len(specs) if n_items is None else n_items
    return bytes(r) + body
