"""What a path= rule (a watch, `-w FILE`) watches: kernel audit resolves the file when the
rule is loaded and then matches any name of a call that reached the same inode and device
(audit_watch_compare()), however the name was spelled: a hard link, a symlink, a ".." walk,
a relative name. bpfaudit takes the same snapshot when it loads the rules (BPF compares it
with the object a call reached, bpf/objects.h; user space with the event's PATH items) and,
in addition, keeps matching the watched name itself (kernel audit's watch follows a file
replaced at that name through its parent directory's events; bpfaudit's inode does not)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Optional, Tuple


def kernel_dev(st_dev: int) -> int:
    """The kernel's dev_t (major << 20 | minor), as PATH records and super_block.s_dev hold it."""
    return (os.major(st_dev) << 20) | os.minor(st_dev)


@lru_cache(maxsize=1024)
def watch_identity(path: str) -> Optional[Tuple[int, int]]:
    """(inode, kernel dev) of the watched file as the rule is loaded; None when it does not exist.

    The last component is not followed (kernel audit watches a symlink itself, not its target)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_ino, kernel_dev(st.st_dev)


def reached(path: str, items) -> bool:
    """Whether some PATH item of an event is the watched file (by inode and device)."""
    ident = watch_identity(path)
    if ident is None or not items:
        return False
    return any(it.inode == ident[0] and it.dev == ident[1] for it in items if it.inode is not None)
