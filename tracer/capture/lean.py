"""Gives back the memory only compiling needed, once the programs are loaded: a long-running
`trace` or `top` otherwise keeps ~180 MB resident, most of it bcc's LLVM and clang.

Measured on a loaded capture session (issue 14): 178 MB resident after loading, 69 MB once the
compiler's garbage is collected and the freed heap returned (gc.collect(), malloc_trim) and
the pages of libLLVM and libclang-cpp that were read from the files and never written are
dropped from this process (madvise MADV_DONTNEED: they would be read again from the files if
ever used). Pages a library wrote (its relocations) are kept: dropping them would lose the
writes. What stays: Python and the CLI's modules, the ring buffer, the libraries' relocated
data, bcc's live objects.
"""

from __future__ import annotations

import ctypes
import gc
import re
from typing import Iterable, List, Optional, Tuple

MADV_DONTNEED = 4
COMPILER_LIBRARIES = ("libLLVM", "libclang")

_VMA = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$")


def droppable(smaps: str, names: Iterable[str] = COMPILER_LIBRARIES) -> List[Tuple[int, int, int]]:
    """(start, end, resident kB) of the mappings in /proc/PID/smaps text whose file name contains
    one of `names` and that hold no page written by this process (Private_Dirty and Anonymous 0)."""
    names = tuple(names)
    out: List[Tuple[int, int, int]] = []
    cur: Optional[dict] = None

    def close(vma: Optional[dict]) -> None:
        if (vma is not None and any(n in vma["path"] for n in names) and vma.get("Private_Dirty") == 0
                and vma.get("Anonymous") == 0 and vma.get("Rss", 0) > 0):
            out.append((vma["start"], vma["end"], vma["Rss"]))

    for line in smaps.splitlines():
        m = _VMA.match(line)
        if m:
            close(cur)
            cur = {"start": int(m.group(1), 16), "end": int(m.group(2), 16), "path": m.group(4)}
        elif cur is not None and line.endswith(" kB"):
            key, _, value = line.partition(":")
            cur[key] = int(value.split()[0])
    close(cur)
    return out


def resident_mb() -> int:
    with open("/proc/self/status") as f:
        m = re.search(r"VmRSS:\s+(\d+)", f.read())
    return int(m.group(1)) // 1024 if m else 0


def release_compiler_memory() -> Tuple[int, int]:
    """Frees what compiling left behind; returns the resident MB before and after."""
    before = resident_mb()
    gc.collect()
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        libc.malloc_trim(0)  # glibc: every free page of every arena back to the system
    except AttributeError:  # another libc
        pass
    try:
        with open("/proc/self/smaps") as f:
            text = f.read()
    except OSError:
        return before, resident_mb()
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for start, end, _kb in droppable(text):
        madvise(start, end - start, MADV_DONTNEED)  # a failure leaves the pages where they were
    return before, resident_mb()
