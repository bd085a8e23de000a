"""Opens record files the way audit trails should be: mode 0600, never
through a symlink."""

from __future__ import annotations

import os
from typing import IO

from tracer.errors import BpfauditError


# records go out in large writes: a batch's text is written whole when larger than this
WRITE_BUFFER = 1 << 20


def open_private(path: str, binary: bool = False) -> IO:
    """Creates or truncates `path` for writing, 0600, refusing symlinks; `binary`: a buffered
    byte stream of WRITE_BUFFER bytes (records), else text."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as err:
        if err.errno == 40:  # ELOOP: the last component is a symlink
            raise BpfauditError(f"{path} is a symlink: refusing to write an audit trail through it") from None
        raise BpfauditError(f"cannot open {path} for writing: {err.strerror}") from None
    try:
        st = os.fstat(fd)
        if not os.path.stat.S_ISREG(st.st_mode):
            raise BpfauditError(f"{path} is not a regular file")
        os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    except BaseException:
        os.close(fd)
        raise
    if binary:
        return os.fdopen(fd, "wb", buffering=WRITE_BUFFER)
    return os.fdopen(fd, "w", buffering=1 << 16)
