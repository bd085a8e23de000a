"""Kernel audit's EXECVE records: a port of kernel/auditsc.c audit_log_execve_info(), so that
long and many arguments split over fields (a0_len=, a0[0]=) and records exactly as the kernel's do."""

from __future__ import annotations

import re
from typing import List, Sequence

MAX_EXECVE_AUDIT_LEN = 7500  # kernel/audit.h: the budget of one EXECVE record's argument text
_ABUF = 96  # sizeof(abuf), the kernel's scratch buffer for " aN_len=... aN[i]=": part of its arithmetic

# audit_string_contains_control(): a quote, a space or control byte, or anything above 0x7e
_CONTROL = re.compile(rb'[^\x21\x23-\x7e]')


def contains_control(data: bytes) -> bool:
    return _CONTROL.search(data) is not None


def execve_records(argv: Sequence[bytes], argc: int) -> List[str]:
    """The bodies (after "msg=audit(...): ") of the EXECVE records of one execve.

    argv are the arguments as the new program's memory holds them (no NUL inside);
    argc is the kernel's count. When argv holds fewer (cut at a cap), the records stop
    after the last argument we have, as if the kernel had stopped reading there.
    """
    count = min(len(argv), argc)
    if count <= 0:
        return [f"argc={argc}"]
    # The kernel walks the NUL-separated strings in the new mm's argument area.
    mem = b"".join(bytes(a) + b"\0" for a in argv[:count])
    p = 0

    records: List[str] = []
    out: List[str] = [f"argc={argc}"]
    len_max = MAX_EXECVE_AUDIT_LEN
    len_rem = len_max
    len_buf = 0
    len_full = 0
    len_abuf = 0
    require_data = True
    encode = False
    it = 0
    arg = 0
    buf = b""  # the bytes fetched and not yet written (buf .. buf + len_buf)
    while True:
        if len_full == 0:  # strnlen_user(p, MAX_ARG_STRLEN) - 1
            len_full = mem.index(b"\0", p) - p

        if require_data:
            room = len_max - len_buf
            chunk = mem[p:p + room]  # strncpy_from_user(&buf_head[len_buf], p, room)
            nul = chunk.find(b"\0")
            len_tmp = room if nul < 0 else nul
            buf += chunk[:len_tmp]
            if len_tmp == room:  # the buffer is full: the rest of the argument comes later
                require_data = True
                encode = True
                len_full = len_full * 2
                p += len_tmp
            else:
                require_data = False
                if not encode:
                    encode = contains_control(buf[:len_tmp])
                if len_full < len_max:
                    len_full = len_tmp * 2 if encode else len_tmp
                p += len_tmp + 1
            len_buf += len_tmp
            len_abuf = len_buf * 2 if encode else len_buf + 2

        if _ABUF + 8 > len_rem:  # too little room left: end this record, start another
            len_rem = len_max
            records.append("".join(out))
            out = []

        if require_data or it > 0 or (len_abuf + _ABUF) > len_rem:
            head = f" a{arg}_len={len_full}" if it == 0 else ""
            head += f" a{arg}[{it}]="
            it += 1
        else:
            head = f" a{arg}="
        out.append(head)
        len_rem -= len(head)

        len_tmp = len_buf
        if encode:
            if len_abuf > len_rem:
                len_tmp = len_rem // 2
            out.append(buf[:len_tmp].hex().upper())
            len_rem -= len_tmp * 2
            len_abuf -= len_tmp * 2
        else:
            if len_abuf > len_rem:
                len_tmp = len_rem - 2  # the quotes
            out.append('"' + buf[:len_tmp].decode("latin-1") + '"')  # printable ASCII only here
            len_rem -= len_tmp + 2
            len_abuf -= len_tmp  # the rest still needs its quotes
        len_buf -= len_tmp
        buf = buf[len_tmp:]

        if len_buf == 0 and not require_data:
            arg += 1
            it = 0
            len_full = 0
            require_data = True
            encode = False
        if arg >= count:
            break
    records.append("".join(out))
    return records
