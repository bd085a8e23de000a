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
Obj = L.structs["ba_obj"]
Caps = L.structs["ba_caps"]
HDR = L.BA_RECORD_HDR_SIZE
OPENAT = syscall_number("x86_64", "openat")
RENAME = syscall_number("x86_64", "rename")
EXECVE = syscall_number("x86_64", "execve")
IDS = ("ppid", "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses")

ItemSpec = Tuple[int, bytes, int, int]  # (kind, payload, flags, aux)


def item(kind: Union[int, str], payload: Union[bytes, str] = b"", flags: int = 0, aux: int = 0) -> ItemSpec:
    """One item; `kind` a BA_ITEM_* value or its name ("PATH", "EXE", ...)."""
    if isinstance(kind, str):
        kind = L.consts[f"BA_ITEM_{kind}"]
    raw = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else payload
    return kind, raw, flags, aux


def obj(op: Union[int, str], ino: int = 0, dev: int = 0, mode: int = 0, uid: int = 0, gid: int = 0, rdev: int = 0,
        uptr: int = 0, dir_ino: int = 0, dir_dev: int = 0, name: Union[bytes, str] = b"", flags: Optional[int] = None,
        item_flags: int = 0, name_len: Optional[int] = None) -> ItemSpec:
    """An OBJ item: struct ba_obj, then `name`; `op` a BA_OBJ_* value or its name ("INODE", ...).
    `flags` defaults to BA_OBJ_HAS_INODE when `ino` is set; `name_len` overrides the length."""
    if isinstance(op, str):
        op = L.consts[f"BA_OBJ_{op}"]
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    o = Obj()
    o.ino, o.dev, o.mode, o.uid, o.gid, o.rdev = ino, dev, mode, uid, gid, rdev
    o.uptr, o.dir_ino, o.dir_dev, o.op = uptr, dir_ino, dir_dev, op
    o.flags = (L.BA_OBJ_HAS_INODE if ino else 0) if flags is None else flags
    o.name_len = len(raw) if name_len is None else name_len
    return item("OBJ", bytes(o) + raw, item_flags, op)


def caps(**fields: int) -> ItemSpec:
    """A CAPS item with the given struct ba_caps fields (others 0)."""
    c = Caps()
    for k, v in fields.items():
        setattr(c, k, v)
    return item("CAPS", bytes(c))


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
