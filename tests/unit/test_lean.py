"""Which mappings tracer/capture/lean.py drops after loading: only the compiler libraries'
pages that hold nothing this process wrote."""

from tracer.capture.lean import droppable, release_compiler_memory, resident_mb

SMAPS = """\
7f0000000000-7f0000100000 r--p 00000000 fe:01 123 /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
Size:               1024 kB
Rss:                 800 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000100000-7f0000200000 r-xp 00100000 fe:01 123 /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
Size:               1024 kB
Rss:                1000 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000200000-7f0000210000 rw-p 00200000 fe:01 123 /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1
Size:                 64 kB
Rss:                  64 kB
Private_Dirty:        64 kB
Anonymous:            64 kB
7f0000300000-7f0000400000 r--p 00000000 fe:01 124 /usr/lib/llvm-14/lib/libclang-cpp.so.14
Size:               1024 kB
Rss:                   0 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 r-xp 00000000 fe:01 125 /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1024 kB
Rss:                 900 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
7f0000500000-7f0000600000 rw-p 00000000 00:00 0
Rss:                1024 kB
Private_Dirty:      1024 kB
Anonymous:          1024 kB
"""


def test_only_clean_resident_compiler_pages():
    got = droppable(SMAPS)
    assert got == [(0x7F0000000000, 0x7F0000100000, 800), (0x7F0000100000, 0x7F0000200000, 1000)]


def test_a_mapping_without_counts_is_kept():
    """A kernel that writes no Private_Dirty line: nothing is known to be clean, nothing dropped."""
    text = "\n".join(line for line in SMAPS.splitlines() if not line.startswith("Private_Dirty"))
    assert droppable(text) == []


def test_release_in_this_process_keeps_it_working():
    before, after = release_compiler_memory()
    assert before > 0 and after > 0 and resident_mb() > 0
    assert sum(i for i in range(1000)) == 499500  # still running normally
