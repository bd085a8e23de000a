"""Native kernel-audit text (what auditd writes to audit.log), so that ausearch -if and
aureport -if read bpfaudit's output.

One event is kernel audit's records of it, in the kernel's order (kernel/auditsc.c
audit_log_exit()): SYSCALL, BPRM_FCAPS, EXECVE (one or more), SOCKADDR, CWD, the PATH records of
kernel audit's names list (audit_log_name()), PROCTITLE, all stamped msg=audit(ENTRY_SECS.MILLIS:SERIAL).
One field is ours, not the kernel's: " bpfaudit_cut=argv,path0,..." ends the SYSCALL record when
items were cut at a cap or could not be read, so that a short record never passes for a whole one.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional

from tracer.capture.events import BprmFcaps, PathItem, SyscallEvent
from tracer.formats.execve import execve_records

# audit_string_contains_control(): a quote, a space or control byte, or anything above 0x7e.
# On str: a character outside 0x21..0x7e (bar the quote) always encodes to such a byte,
# surrogate escapes of undecodable bytes included.
_NEEDS_HEX = re.compile(r'[^\x21\x23-\x7e]')
_NEEDS_HEX_BYTES = re.compile(rb'[^\x21\x23-\x7e]')

_MASK64 = 0xFFFFFFFFFFFFFFFF
_CACHE_MAX = 4096


def raw_bytes(value: str) -> bytes:
    """The bytes a str decoded with surrogateescape came from."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no decode produced: still write something
        return value.encode("utf-8", "surrogatepass")


def untrusted(value: Optional[str]) -> str:
    """audit_log_untrustedstring(): quoted, or hex when it has a quote, space or control byte."""
    if value is None:
        return "(null)"
    if _NEEDS_HEX.search(value) is None:
        return f'"{value}"'
    return raw_bytes(value).hex().upper()


def untrusted_bytes(value: bytes) -> str:
    """audit_log_n_untrustedstring() of raw bytes (PROCTITLE)."""
    if _NEEDS_HEX_BYTES.search(value) is None:
        return '"' + value.decode("ascii") + '"'
    return value.hex().upper()


# comm, exe, key, cwd and proctitle repeat from record to record; names mostly do not.
_repeated: Dict[object, str] = {}


def _untrusted_repeated(value: Optional[str]) -> str:
    shown = _repeated.get(value)
    if shown is None:
        shown = untrusted(value)
        if len(_repeated) >= _CACHE_MAX:
            _repeated.clear()
        _repeated[value] = shown
    return shown


def _proctitle(value: bytes) -> str:
    shown = _repeated.get(value)
    if shown is None:
        # an empty command line: audit_log_proctitle() logs its "(null)" placeholder
        shown = untrusted_bytes(value) if value else '"(null)"'
        if len(_repeated) >= _CACHE_MAX:
            _repeated.clear()
        _repeated[value] = shown
    return shown


# audit_log_fcaps(): bpfaudit does not read a PATH item's file capabilities (docs/records.md)
_NO_FCAPS = " cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"


def kernel_dev(dev: int) -> str:
    """MAJOR:MINOR of a kernel dev_t (major << 20 | minor) as kernel audit prints them (%02x:%02x)."""
    return f"{dev >> 20:02x}:{dev & 0xFFFFF:02x}"


def octal_mode(mode: int) -> str:
    """%#ho: octal with a leading 0 (0 alone for 0)."""
    mode &= 0xFFFF
    return f"0{mode:o}" if mode else "0"


def path_record(i: int, item: PathItem) -> str:
    """The body of a PATH record (audit_log_name())."""
    out = [f"item={i} name={untrusted(item.name)}"]
    if item.inode is not None:
        out.append(f" inode={item.inode}")
        if item.dev is not None:
            out.append(f" dev={kernel_dev(item.dev)}")
        # a parent kernel audit made from a directory alone can lack these (docs/records.md)
        if item.mode is not None:
            out.append(f" mode={octal_mode(item.mode)}")
        if item.ouid is not None:
            out.append(f" ouid={item.ouid} ogid={item.ogid}")
        if item.rdev is not None:
            out.append(f" rdev={kernel_dev(item.rdev)}")
    out.append(f" nametype={item.nametype}{_NO_FCAPS}")
    return "".join(out)


def _cap(name: str, value: int) -> str:
    """audit_log_cap()"""
    return f" {name}=0" if not value else f" {name}={value:016x}"


def bprm_fcaps_record(f: BprmFcaps) -> str:
    """The body of a BPRM_FCAPS record (audit_log_exit()'s AUDIT_BPRM_FCAPS case)."""
    return (f"fver={f.fver:x}{_cap('fp', f.fp)}{_cap('fi', f.fi)} fe={f.fe}"
            f"{_cap('old_pp', f.old_pp)}{_cap('old_pi', f.old_pi)}{_cap('old_pe', f.old_pe)}{_cap('old_pa', f.old_pa)}"
            f"{_cap('pp', f.pp)}{_cap('pi', f.pi)}{_cap('pe', f.pe)}{_cap('pa', f.pa)} frootid={f.frootid}")


def msg_id(ev: SyscallEvent) -> str:
    """audit(SECONDS.MILLIS:SERIAL), the event id ausearch groups records by."""
    secs = int(ev.time)
    millis = int((ev.time - secs) * 1000)
    return f"audit({secs}.{millis:03d}:{ev.serial})"


def format_event(ev: SyscallEvent) -> str:
    """All the records of one event, newline-terminated."""
    head = f"msg={msg_id(ev)}: "
    a = ev.args
    items = ev.path_items if ev.path_items is not None else [PathItem(p) for p in ev.paths]
    per = f" per={ev.per:x}" if ev.per else ""  # the kernel writes it only when not PER_LINUX
    cut = f" bpfaudit_cut={','.join(ev.cut)}" if ev.cut else ""
    lines: List[str] = [
        f"type=SYSCALL {head}arch={ev.arch:x} syscall={ev.syscall}{per} "
        f"success={'yes' if ev.success else 'no'} exit={ev.exit} "
        f"a0={a[0] & _MASK64:x} a1={a[1] & _MASK64:x} a2={a[2] & _MASK64:x} a3={a[3] & _MASK64:x} "
        f"items={len(items)} "
        f"ppid={ev.ppid} pid={ev.pid} auid={ev.auid} uid={ev.uid} gid={ev.gid} "
        f"euid={ev.euid} suid={ev.suid} fsuid={ev.fsuid} egid={ev.egid} sgid={ev.sgid} "
        f"fsgid={ev.fsgid} tty={ev.tty} ses={ev.ses} comm={_untrusted_repeated(ev.comm)} "
        f"exe={_untrusted_repeated(ev.exe)} key={_untrusted_repeated(ev.key)}{cut}"
    ]
    if ev.bprm_fcaps is not None:
        lines.append(f"type=BPRM_FCAPS {head}{bprm_fcaps_record(ev.bprm_fcaps)}")
    if ev.argv is not None:
        argv = [raw_bytes(x) for x in ev.argv]
        lines.extend(f"type=EXECVE {head}{body}" for body in execve_records(argv, ev.argc))
    if ev.sockaddr:  # the kernel writes SOCKADDR only for a nonzero length
        lines.append(f"type=SOCKADDR {head}saddr={ev.sockaddr.hex().upper()}")
    if ev.cwd is not None:
        lines.append(f"type=CWD {head}cwd={_untrusted_repeated(ev.cwd)}")
    for i, item in enumerate(items):
        lines.append(f"type=PATH {head}{path_record(i, item)}")
    if ev.proctitle is not None:
        lines.append(f"type=PROCTITLE {head}proctitle={_proctitle(ev.proctitle)}")
    lines.append("")
    return "\n".join(lines)
