"""JSON lines: one object per syscall, under the SyscallEvent field names plus duration_ns.

Text a traced process controls is a JSON string when its bytes are valid UTF-8, and
otherwise {"hex": "<uppercase hex of the raw bytes>"}; from_json_dict() undoes both.
argv is an array, proctitle the array of its NUL-separated parts, cut an array; the
socket address is "saddr" (uppercase hex, as kernel audit's SOCKADDR record) and
"sockaddr", its decoded form ({"family": "inet", "addr": ..., "port": ...}).
"path_items" are kernel audit's PATH records, each {"name", "nametype"} and, when it has an inode,
"inode", "dev" and "rdev" ("MAJOR:MINOR" in hex, as the audit text), "mode" (octal text, "0100644"),
"ouid", "ogid"; "bprm_fcaps" is null or the BPRM_FCAPS fields, capability sets as hex text.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
from typing import Any, Dict, List, Optional, Union

from tracer.capture.events import BprmFcaps, PathItem, SyscallEvent

Text = Union[str, Dict[str, str]]

# ensure_ascii (json's default, and what this format always wrote): the output is ASCII
# whatever the event holds, so writing it never fails on an encoding.
_ENCODER = json.JSONEncoder(separators=(",", ":"))

# Fields copied as they are (numbers, booleans, our own names).
_PLAIN = ("time", "serial", "arch", "syscall", "syscall_name", "success", "exit", "ppid", "pid", "tid",
          "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "ses", "rule",
          "enter_ns", "exit_ns", "cpu", "seq", "per", "argc")


def _raw(value: str) -> bytes:
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no decode produced
        return value.encode("utf-8", "surrogatepass")


def text(value: str) -> Text:
    """A str decoded with surrogateescape, as JSON: itself when valid UTF-8, else its bytes in hex."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return {"hex": _raw(value).hex().upper()}
    return value


def text_bytes(value: bytes) -> Text:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": value.hex().upper()}


def _opt_text(value: Optional[str]) -> Optional[Text]:
    return None if value is None else text(value)


def untext(value: Any) -> str:
    """The inverse of text()."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("hex"), str):
        return bytes.fromhex(value["hex"]).decode("utf-8", "surrogateescape")
    raise ValueError(f"not a string or {{\"hex\": ...}}: {value!r:.60}")


def untext_bytes(value: Any) -> bytes:
    """The inverse of text_bytes()."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, dict) and isinstance(value.get("hex"), str):
        return bytes.fromhex(value["hex"])
    raise ValueError(f"not a string or {{\"hex\": ...}}: {value!r:.60}")


def _opt_untext(value: Any) -> Optional[str]:
    return None if value is None else untext(value)


def _list(obj: dict, name: str) -> Optional[list]:
    value = obj.get(name)
    if value is not None and not isinstance(value, list):
        raise ValueError(f"{name} is not an array")
    return value


def decode_sockaddr(raw: bytes) -> Dict[str, Any]:
    """A struct sockaddr as bytes, for people: inet, inet6 and local (unix) addresses.

    Anything else, or too short for its family, is {"family": <number>} ({"family": null}
    below the two bytes of sa_family); saddr keeps all the bytes.
    """
    if len(raw) < 2:
        return {"family": None}
    family = int.from_bytes(raw[:2], sys.byteorder)  # sa_family_t is in host order
    if family == socket.AF_INET and len(raw) >= 8:
        return {"family": "inet", "addr": str(ipaddress.IPv4Address(raw[4:8])),
                "port": int.from_bytes(raw[2:4], "big")}
    if family == socket.AF_INET6 and len(raw) >= 24:
        addr = str(ipaddress.IPv6Address(raw[8:24]))
        scope = int.from_bytes(raw[24:28], sys.byteorder) if len(raw) >= 28 else 0
        if scope:
            addr += f"%{scope}"
        return {"family": "inet6", "addr": addr, "port": int.from_bytes(raw[2:4], "big")}
    if family == socket.AF_UNIX:
        path = raw[2:]
        if path[:1] == b"\0":  # abstract: every byte of addrlen counts, NULs included
            return {"family": "local", "path": text_bytes(b"@" + path[1:])}
        return {"family": "local", "path": text_bytes(path.split(b"\0", 1)[0])}  # "": unnamed
    return {"family": family}


_CAP_SETS = ("fp", "fi", "old_pp", "old_pi", "old_pe", "old_pa", "pp", "pi", "pe", "pa")
_FCAPS_INTS = ("fver", "fe", "frootid")


def _dev(dev: int) -> str:
    return f"{dev >> 20:02x}:{dev & 0xFFFFF:02x}"


def _undev(value: Any) -> int:
    if not isinstance(value, str) or value.count(":") != 1:
        raise ValueError(f"not a MAJOR:MINOR device: {value!r:.60}")
    major, minor = value.split(":")
    return int(major, 16) << 20 | int(minor, 16)


def path_item_json(item: PathItem) -> Dict[str, Any]:
    out: Dict[str, Any] = {"name": _opt_text(item.name), "nametype": item.nametype}
    if item.inode is not None:
        out["inode"] = item.inode
        if item.dev is not None:
            out["dev"] = _dev(item.dev)
        if item.mode is not None:
            out["mode"] = f"0{item.mode:o}" if item.mode else "0"  # as the audit text's %#ho
        if item.ouid is not None:
            out["ouid"], out["ogid"] = item.ouid, item.ogid
        if item.rdev is not None:
            out["rdev"] = _dev(item.rdev)
    return out


def path_item_from_json(obj: Any) -> PathItem:
    if not isinstance(obj, dict):
        raise ValueError("a path item is not an object")
    mode = obj.get("mode")
    return PathItem(
        _opt_untext(obj.get("name")), obj.get("inode"),
        None if obj.get("dev") is None else _undev(obj["dev"]),
        None if mode is None else int(mode, 8), obj.get("ouid"), obj.get("ogid"),
        None if obj.get("rdev") is None else _undev(obj["rdev"]), str(obj.get("nametype", "UNKNOWN")),
    )


def bprm_fcaps_json(f: Optional[BprmFcaps]) -> Optional[Dict[str, Any]]:
    if f is None:
        return None
    out: Dict[str, Any] = {k: getattr(f, k) for k in _FCAPS_INTS}
    out.update((k, f"{getattr(f, k):016x}") for k in _CAP_SETS)
    return out


def bprm_fcaps_from_json(obj: Any) -> Optional[BprmFcaps]:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ValueError("bprm_fcaps is not an object")
    return BprmFcaps(**{k: int(obj[k]) for k in _FCAPS_INTS}, **{k: int(obj[k], 16) for k in _CAP_SETS})


def to_json_dict(ev: SyscallEvent) -> Dict[str, Any]:
    """The JSON object of one event (the one format_event writes)."""
    sockaddr = ev.sockaddr
    return {
        "time": ev.time, "serial": ev.serial, "arch": ev.arch, "syscall": ev.syscall,
        "syscall_name": ev.syscall_name, "success": ev.success, "exit": ev.exit, "args": list(ev.args),
        "ppid": ev.ppid, "pid": ev.pid, "tid": ev.tid, "auid": ev.auid, "uid": ev.uid, "gid": ev.gid,
        "euid": ev.euid, "suid": ev.suid, "fsuid": ev.fsuid, "egid": ev.egid, "sgid": ev.sgid,
        "fsgid": ev.fsgid, "ses": ev.ses, "tty": text(ev.tty), "comm": text(ev.comm),
        "exe": _opt_text(ev.exe), "key": _opt_text(ev.key), "rule": ev.rule,
        "paths": [_opt_text(p) for p in ev.paths],
        "enter_ns": ev.enter_ns, "exit_ns": ev.exit_ns, "cpu": ev.cpu, "seq": ev.seq, "per": ev.per,
        "cwd": _opt_text(ev.cwd),
        "proctitle": None if ev.proctitle is None else [text_bytes(p) for p in ev.proctitle.split(b"\0")],
        "argv": None if ev.argv is None else [text(a) for a in ev.argv],
        "argc": ev.argc,
        "saddr": None if sockaddr is None else sockaddr.hex().upper(),
        "sockaddr": None if sockaddr is None else decode_sockaddr(sockaddr),
        "cut": list(ev.cut),
        "path_items": [path_item_json(i) for i in (ev.path_items if ev.path_items is not None else
                                                  [PathItem(p) for p in ev.paths])],
        "bprm_fcaps": bprm_fcaps_json(ev.bprm_fcaps),
        "duration_ns": ev.duration_ns,
    }


def from_json_dict(obj: Dict[str, Any]) -> SyscallEvent:
    """The event a to_json_dict() object describes (duration_ns and unknown keys ignored).

    Raises ValueError for a value of the wrong shape, TypeError for a missing field.
    Objects written before a field existed get its default.
    """
    kw: Dict[str, Any] = {k: obj[k] for k in _PLAIN if k in obj}
    if "args" in obj:
        kw["args"] = _list(obj, "args")
    for name in ("tty", "comm"):
        if name in obj:
            kw[name] = untext(obj[name])
    for name in ("exe", "key", "cwd"):
        if name in obj:
            kw[name] = _opt_untext(obj[name])
    paths = _list(obj, "paths")
    if paths is not None:
        kw["paths"] = [_opt_untext(p) for p in paths]
    argv = _list(obj, "argv")
    if argv is not None:
        kw["argv"] = [untext(a) for a in argv]
    proctitle: Optional[List[Any]] = _list(obj, "proctitle")
    if proctitle is not None:
        kw["proctitle"] = b"\0".join(untext_bytes(p) for p in proctitle)
    saddr = obj.get("saddr")
    if saddr is not None:
        if not isinstance(saddr, str):
            raise ValueError("saddr is not a hex string")
        kw["sockaddr"] = bytes.fromhex(saddr)
    cut = _list(obj, "cut")
    if cut is not None:
        kw["cut"] = tuple(cut)
    items = _list(obj, "path_items")
    if items is not None:
        kw["path_items"] = [path_item_from_json(i) for i in items]
    kw["bprm_fcaps"] = bprm_fcaps_from_json(obj.get("bprm_fcaps"))
    return SyscallEvent(**kw)


def format_event(ev: SyscallEvent) -> str:
    return _ENCODER.encode(to_json_dict(ev)) + "\n"
