"""Native kernel-audit text (what auditd writes to audit.log), so that
ausearch -if and aureport -if read bpfaudit's output."""

from __future__ import annotations

from typing import List, Optional

from tracer.events import SyscallEvent


def untrusted(value: Optional[str]) -> str:
    """audit_log_untrustedstring(): quoted, or hex when it has a quote, space or control byte."""
    if value is None:
        return "(null)"
    raw = value.encode("utf-8", "surrogateescape")
    if any(b == 0x22 or b < 0x21 or b > 0x7E for b in raw):
        return raw.hex().upper()
    return f'"{value}"'


def msg_id(ev: SyscallEvent) -> str:
    """audit(SECONDS.MILLIS:SERIAL), the event id ausearch groups records by."""
    secs = int(ev.time)
    millis = int((ev.time - secs) * 1000)
    return f"audit({secs}.{millis:03d}:{ev.serial})"


def format_event(ev: SyscallEvent) -> str:
    """The SYSCALL record and one PATH record per pathname argument, newline-terminated."""
    mid = msg_id(ev)
    a = [x & 0xFFFFFFFFFFFFFFFF for x in ev.args]
    lines: List[str] = [
        f"type=SYSCALL msg={mid}: arch={ev.arch:x} syscall={ev.syscall} "
        f"success={'yes' if ev.success else 'no'} exit={ev.exit} "
        f"a0={a[0]:x} a1={a[1]:x} a2={a[2]:x} a3={a[3]:x} items={len(ev.paths)} "
        f"ppid={ev.ppid} pid={ev.pid} auid={ev.auid} uid={ev.uid} gid={ev.gid} "
        f"euid={ev.euid} suid={ev.suid} fsuid={ev.fsuid} egid={ev.egid} sgid={ev.sgid} "
        f"fsgid={ev.fsgid} tty={ev.tty} ses={ev.ses} comm={untrusted(ev.comm)} "
        f"exe={untrusted(ev.exe)} key={untrusted(ev.key)}"
    ]
    for i, path in enumerate(ev.paths):
        lines.append(f"type=PATH msg={mid}: item={i} name={untrusted(path)} nametype=UNKNOWN")
    return "\n".join(lines) + "\n"
