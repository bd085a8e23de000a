"""Opens record files the way audit trails should be: mode 0600, a new file (an inode nobody
else can hold open), never through a symlink, never into another user's file."""

from __future__ import annotations

import os
import pwd
import stat
import tempfile
from typing import IO

from tracer.errors import BpfauditError

# records go out in large writes: a batch's text is written whole when larger than this
WRITE_BUFFER = 1 << 20


def _owner(uid: int) -> str:
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def open_private(path: str, binary: bool = False) -> IO:
    """Creates `path` for writing, 0600, as a new file; `binary`: a buffered byte stream of
    WRITE_BUFFER bytes (records), else text.

    The file is made under a private name in the same directory and renamed over `path`: an
    existing file of the invoking user is replaced, so a descriptor someone opened on it before
    sees nothing of the new trail. A file another user owns (planted in a shared directory such
    as /tmp), a symlink, or anything that is not a regular file is refused, untouched."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise BpfauditError(f"cannot open {path} for writing: {err.strerror}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise BpfauditError(f"{path} is a symlink: refusing to write an audit trail through it")
        if not stat.S_ISREG(st.st_mode):
            raise BpfauditError(f"{path} is not a regular file")
        if st.st_uid != os.geteuid():
            raise BpfauditError(f"{path} belongs to {_owner(st.st_uid)}: refusing to write an audit trail into "
                                "another user's file (they could read it); remove it or choose another name")
    directory, name = os.path.split(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".new", dir=directory or ".")
    except OSError as err:
        raise BpfauditError(f"cannot open {path} for writing: {err.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        os.rename(tmp, path)  # replaces a symlink or file that appeared meanwhile, never follows one
    except OSError as err:
        os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise BpfauditError(f"cannot open {path} for writing: {err.strerror}") from None
    if binary:
        return os.fdopen(fd, "wb", buffering=WRITE_BUFFER)
    return os.fdopen(fd, "w", buffering=1 << 16)
