"""Native kernel-audit text (what auditd writes to audit.log), so that ausearch -if and
aureport -if read bpfaudit's output.

One event is kernel audit's records of it, in the kernel's order (kernel/auditsc.c
audit_log_exit()): SYSCALL, EXECVE (one or more), SOCKADDR, CWD, one PATH per name, PROCTITLE,
all stamped msg=audit(ENTRY_SECS.MILLIS:SERIAL). The PATH records carry no inode fields.
One field is ours, not the kernel's: " bpfaudit_cut=argv,path0,..." ends the SYSCALL record when
items were cut at a cap or could not be read, so that a short record never passes for a whole one.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional

from tracer.capture.events import SyscallEvent
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


def msg_id(ev: SyscallEvent) -> str:
    """audit(SECONDS.MILLIS:SERIAL), the event id ausearch groups records by."""
    secs = int(ev.time)
    millis = int((ev.time - secs) * 1000)
    return f"audit({secs}.{millis:03d}:{ev.serial})"


def format_event(ev: SyscallEvent) -> str:
    """All the records of one event, newline-terminated."""
    head = f"msg={msg_id(ev)}: "
    a = ev.args
    per = f" per={ev.per:x}" if ev.per else ""  # the kernel writes it only when not PER_LINUX
    cut = f" bpfaudit_cut={','.join(ev.cut)}" if ev.cut else ""
    lines: List[str] = [
        f"type=SYSCALL {head}arch={ev.arch:x} syscall={ev.syscall}{per} "
        f"success={'yes' if ev.success else 'no'} exit={ev.exit} "
        f"a0={a[0] & _MASK64:x} a1={a[1] & _MASK64:x} a2={a[2] & _MASK64:x} a3={a[3] & _MASK64:x} "
        f"items={len(ev.paths)} "
        f"ppid={ev.ppid} pid={ev.pid} auid={ev.auid} uid={ev.uid} gid={ev.gid} "
        f"euid={ev.euid} suid={ev.suid} fsuid={ev.fsuid} egid={ev.egid} sgid={ev.sgid} "
        f"fsgid={ev.fsgid} tty={ev.tty} ses={ev.ses} comm={_untrusted_repeated(ev.comm)} "
        f"exe={_untrusted_repeated(ev.exe)} key={_untrusted_repeated(ev.key)}{cut}"
    ]
    if ev.argv is not None:
        argv = [raw_bytes(x) for x in ev.argv]
        lines.extend(f"type=EXECVE {head}{body}" for body in execve_records(argv, ev.argc))
    if ev.sockaddr:  # the kernel writes SOCKADDR only for a nonzero length
        lines.append(f"type=SOCKADDR {head}saddr={ev.sockaddr.hex().upper()}")
    if ev.cwd is not None:
        lines.append(f"type=CWD {head}cwd={_untrusted_repeated(ev.cwd)}")
    for i, path in enumerate(ev.paths):
        lines.append(f"type=PATH {head}item={i} name={untrusted(path)} nametype=UNKNOWN")
    if ev.proctitle is not None:
        lines.append(f"type=PROCTITLE {head}proctitle={_proctitle(ev.proctitle)}")
    lines.append("")
    return "\n".join(lines)
